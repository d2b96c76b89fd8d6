import java.nio.file.Path;
import picocli.CommandLine.Option;

/**
 * The options every step script shares, declared once as picocli mixins
 * ({@code @Mixin KitOptions.Output out; @Mixin KitOptions.Folders folders;}), and the
 * {@link KitContext} a script builds from them.
 */
public final class KitOptions {
    private KitOptions() {}

    /** --json: stdout holds only the one JSON object; messages go to stderr. */
    public static class Output {
        @Option(names = "--json", description = "print one JSON object on stdout; messages go to stderr")
        public boolean json;
    }

    /** --dry-run: compute and print the plan, change nothing. */
    public static class DryRun {
        @Option(names = "--dry-run", description = "show the plan and change nothing (no archive file, nothing on the site or in the bucket)")
        public boolean dryRun;
    }

    /** The archive's folders; each defaults to the kit's standard layout (Layout.standard). */
    public static class Folders {
        @Option(names = "--data-dir", paramLabel = "DIR", description = "the archive folder (default: data)")
        public Path data;
        @Option(names = "--photos-dir", paramLabel = "DIR", description = "the archive's photos (default: raw_photos)")
        public Path photos;
        @Option(names = "--crops-dir", paramLabel = "DIR", description = "the face crops (default: raw_photos/crops)")
        public Path crops;
        @Option(names = {"--pending-dir", "--dest"}, paramLabel = "DIR", description = "downloaded uploads, one folder per job (default: raw_photos/pending)")
        public Path pending;
        @Option(names = "--models-dir", paramLabel = "DIR", description = "the face models and models.json (default: models)")
        public Path models;

        public Layout layout(KitConfig config) {
            return Layout.standard(config.root()).withData(data).withPhotos(photos).withCrops(crops)
                    .withPending(pending).withModels(models);
        }
    }

    /** The context of a step script run from the shell: the real environment and .env. */
    public static KitContext context(Output out, Folders folders, boolean dryRun) {
        KitConfig config = KitConfig.load();
        Console console = Console.standard(out.json);
        for (String w : config.warnings()) console.warn(w);
        return new KitContext(config, folders.layout(config), console, dryRun ? KitContext.Mode.DRY_RUN : KitContext.Mode.APPLY);
    }
}
