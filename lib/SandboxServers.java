import com.fasterxml.jackson.databind.JsonNode;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * The sandbox's stand-ins of the site and of R2, started through their own entry point
 * ({@code ./jbang sandbox/sandbox.java --for-pipeline}) as a child process, so that the
 * pipeline itself never carries S3Proxy, its web server or its logging. The child seeds the
 * sandbox if needed, starts both servers, prints one line {@code SANDBOX-SETTINGS {json}} and
 * serves until its standard input closes — which also happens when this process dies.
 */
public final class SandboxServers implements AutoCloseable {
    public static final String SETTINGS_LINE = "SANDBOX-SETTINGS ";

    private final Process child;
    private final KitConfig config;
    private final Path work;

    private SandboxServers(Process child, KitConfig config, Path work) {
        this.child = child;
        this.config = config;
        this.work = work;
    }

    /**
     * Starts the sandbox for the kit at {@code root} (its sandbox/work/ holds everything).
     * The child's messages go to this process's standard error.
     */
    public static SandboxServers start(KitConfig base, boolean reset, Console console) throws IOException {
        Path kit = kitHome(base.root());
        List<String> cmd = new java.util.ArrayList<>(List.of(kit.resolve("jbang").toString(), kit.resolve("sandbox/sandbox.java").toString(), "--for-pipeline"));
        if (reset) cmd.add("--reset");
        ProcessBuilder pb = new ProcessBuilder(cmd).directory(kit.toFile()).redirectError(ProcessBuilder.Redirect.INHERIT);
        pb.environment().put("KIT_ROOT_OVERRIDE", base.root().toString());
        Process p = pb.start();
        BufferedReader out = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
        String line;
        while ((line = out.readLine()) != null) {
            if (!line.startsWith(SETTINGS_LINE)) {
                console.info(line);
                continue;
            }
            JsonNode s = JsonFiles.parse(line.substring(SETTINGS_LINE.length()), "the sandbox's settings");
            Map<String, String> env = new HashMap<>(System.getenv());
            s.path("env").fields().forEachRemaining(e -> env.put(e.getKey(), e.getValue().asText()));
            return new SandboxServers(p, KitConfig.load(base.root(), env), Path.of(s.path("work").asText()));
        }
        int code = waitFor(p);
        throw new KitException("the sandbox could not be started (exit " + code + "; its messages are above)",
                "run ./jbang sandbox/sandbox.java --reset to see it start on its own");
    }

    /** The settings that point at the sandbox's site and store. */
    public KitConfig config() {
        return config;
    }

    /** The sandbox archive's folders, with the kit's models. */
    public Layout layout() {
        return Layout.under(work, config.root().resolve("models"));
    }

    public Path work() {
        return work;
    }

    @Override
    public void close() {
        try {
            child.getOutputStream().close();  // the child serves until its stdin closes
        } catch (IOException ignored) {
            // it is being stopped anyway
        }
        if (waitFor(child) < 0) child.destroyForcibly();
    }

    private static int waitFor(Process p) {
        try {
            return p.waitFor(20, TimeUnit.SECONDS) ? p.exitValue() : -1;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return -1;
        }
    }

    /** Where the kit itself is installed (./jbang, sandbox/): KIT_HOME from ./jbang, else the project root. */
    static Path kitHome(Path root) {
        String home = System.getenv("KIT_HOME");
        return home != null && !home.isBlank() ? Path.of(home) : root;
    }
}
