import java.nio.file.Path;
import java.util.Map;

/**
 * The KitContext of an in-process test: an archive laid out under {@code work} (data/,
 * raw_photos/, raw_photos/crops/, raw_photos/pending/), the kit's own models, the given
 * settings instead of the real environment, and a console the test reads.
 */
public final class TestContext {
    private TestContext() {}

    public static KitContext under(Path work, Map<String, String> env, Console console, KitContext.Mode mode) {
        Path project = KitConfig.findRoot();
        KitConfig config = KitConfig.load(work, env);
        return new KitContext(config, Layout.under(work, project.resolve("models")), console, mode);
    }

    /** APPLY mode, no settings. */
    public static KitContext under(Path work, Console console) {
        return under(work, Map.of(), console, KitContext.Mode.APPLY);
    }

    /** The same archive with only its data folder moved to {@code data} (tests that hold a bare data folder). */
    public static KitContext withData(Path data, Console console) {
        KitContext c = under(data.getParent(), console);
        return c.withLayout(c.layout().withData(data));
    }
}
