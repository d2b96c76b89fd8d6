import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * Runs one of the kit's scripts the way a user does, {@code ./jbang <script> args}, in its own
 * process, and captures its exit code, stdout and stderr. Tests use it for what only a real
 * process shows: exit codes, what goes to which stream, kill -9.
 */
public final class KitProcess {
    public record Result(int exitCode, String stdout, String stderr) {
        public String all() {
            return stdout + stderr;
        }
    }

    private KitProcess() {}

    public static Path root() {
        return KitConfig.findRoot();
    }

    public static Result run(Map<String, String> env, String stdin, String script, String... args) throws IOException, InterruptedException {
        return runIn(root(), env, stdin, script, args);
    }

    /** As {@link #run(Map, String, String, String...)}, with the launcher of another kit (a scratch copy) and in its folder. */
    public static Result runIn(Path root, Map<String, String> env, String stdin, String script, String... args) throws IOException, InterruptedException {
        return runIn(List.of(), root, env, stdin, script, args);
    }

    /**
     * As {@link #run(String, String...)}, the launcher started by another program that runs it
     * ({@code prefix} then {@code ./jbang script args}): capsh dropping root's privileges, strace
     * recording the system calls.
     */
    public static Result runUnder(List<String> prefix, String script, String... args) throws IOException, InterruptedException {
        return runIn(prefix, root(), Map.of(), null, script, args);
    }

    private static Result runIn(List<String> prefix, Path root, Map<String, String> env, String stdin, String script, String... args)
            throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>(prefix);
        cmd.add(root.resolve("jbang").toString());
        cmd.add(script);
        cmd.addAll(List.of(args));
        Path out = Files.createTempFile("kit-out", ".txt"), err = Files.createTempFile("kit-err", ".txt");
        try {
            ProcessBuilder pb = new ProcessBuilder(cmd).directory(root.toFile())
                    .redirectOutput(out.toFile()).redirectError(err.toFile());
            pb.environment().putAll(env);
            // A test may give the script another project root (its own .env, data/, sandbox/).
            if (env.containsKey("KIT_ROOT")) pb.environment().put("KIT_ROOT_OVERRIDE", env.get("KIT_ROOT"));
            Process p = pb.start();
            try (var in = p.getOutputStream()) {
                if (stdin != null) in.write(stdin.getBytes(StandardCharsets.UTF_8));
            }
            if (!p.waitFor(5, TimeUnit.MINUTES)) {
                p.destroyForcibly();
                throw new AssertionError("script " + script + " did not finish in 5 minutes");
            }
            return new Result(p.exitValue(), Files.readString(out, StandardCharsets.UTF_8), stripJBang(Files.readString(err, StandardCharsets.UTF_8)));
        } finally {
            Files.deleteIfExists(out);
            Files.deleteIfExists(err);
        }
    }

    public static Result run(String script, String... args) throws IOException, InterruptedException {
        return run(Map.of(), null, script, args);
    }

    /** JBang's own "[jbang] Building jar ..." lines are not the script's output. */
    private static String stripJBang(String s) {
        StringBuilder sb = new StringBuilder();
        for (String line : s.split("\n", -1)) {
            if (line.startsWith("[jbang]") || line.startsWith("Note: ")) continue;
            sb.append(line).append('\n');
        }
        return sb.toString().stripTrailing();
    }
}
