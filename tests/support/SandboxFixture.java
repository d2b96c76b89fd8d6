import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

/**
 * A scratch project root for pipeline tests: its own sandbox/work/ (so each test seeds a fresh
 * sandbox), the project's face models (fetched once if missing, copied: they are a few MB) and the sandbox's sample photos
 * (fetched once into build/test-cache/ and copied from there).
 */
public final class SandboxFixture {
    private SandboxFixture() {}

    public static Path newRoot(Path tmp) throws Exception {
        Path project = KitProcess.root();
        Console quiet = new TestConsole().console;
        Path models = project.resolve("models");
        if (!Files.isRegularFile(ModelCatalog.file(models))) FetchModelsStep.installDefaults(models, quiet);
        Path photoCache = project.resolve("build/test-cache/sandbox-photos");
        sandbox.samplePhotos(photoCache, quiet);

        Path root = Files.createDirectories(tmp.resolve("root"));
        Files.writeString(root.resolve("jbang-catalog.json"), "{}");
        Path myModels = Files.createDirectories(root.resolve("models"));
        try (Stream<Path> s = Files.list(models)) {
            for (Path p : s.filter(Files::isRegularFile).toList()) Files.copy(p, myModels.resolve(p.getFileName()));
        }
        Path cache = Files.createDirectories(root.resolve("sandbox/work/cache"));
        try (Stream<Path> s = Files.list(photoCache)) {
            for (Path p : s.filter(f -> f.getFileName().toString().endsWith(".jpg")).toList()) Files.copy(p, cache.resolve(p.getFileName()));
        }
        return root;
    }

    /** Runs the pipeline as its own process (so a crash point can really kill it) against the sandbox under {@code root}. */
    public static KitProcess.Result runPipeline(Path root, String crashAt, String stdin, String... args) throws Exception {
        java.util.Map<String, String> env = new java.util.HashMap<>(Map.of("KIT_ROOT", root.toString()));
        env.put("KIT_CRASH_AT", crashAt == null ? "" : crashAt);
        List<String> all = new java.util.ArrayList<>(List.of("--sandbox", "--json"));
        all.addAll(List.of(args));
        return KitProcess.run(env, stdin, KitProcess.root().resolve("process_uploads.java").toString(), all.toArray(String[]::new));
    }
}
