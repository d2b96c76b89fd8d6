import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.ToDoubleFunction;
import java.util.stream.Stream;

/**
 * The one way the kit's benchmarks time things: whole processes, as a user runs them, side by
 * side in one run. Each round runs every command once, in an order that rotates from round to
 * round (so neither side always runs on a warmer or a busier machine); the table gives medians
 * over the rounds and, per round, each command's ratio to a reference command of that same
 * round (a machine that speeds up or slows down in between moves both alike).
 *
 * <p>A command may have a {@code setup} that runs untimed before each of its runs (emptying a
 * bucket for a "first run", copying a scratch archive). Child CPU seconds come from the
 * kernel's accounting of reaped children (/proc/self/stat, 10 ms ticks; Linux only, else 0).
 */
public final class SideBySide {
    private SideBySide() {}

    /** Untimed work before each run of a command. */
    public interface Setup {
        void run() throws Exception;
    }

    /** One command: its label in the table, its argv, the folder it runs in, extra environment, its untimed setup. */
    public record Command(String label, List<String> argv, Path dir, Map<String, String> env, Setup setup) {
        public Command(String label, List<String> argv, Path dir) {
            this(label, argv, dir, Map.of(), () -> {});
        }

        public Command withSetup(Setup s) {
            return new Command(label, argv, dir, env, s);
        }

        public Command withEnv(Map<String, String> e) {
            return new Command(label, argv, dir, e, setup);
        }
    }

    /** One timed run: wall seconds and the CPU seconds of the process and its children. */
    public record Sample(double wall, double cpu) {}

    /** Every command's samples, in the order the commands were given. */
    public static final class Samples {
        final List<Command> commands;
        final Map<Command, List<Sample>> byCommand = new LinkedHashMap<>();

        Samples(List<Command> commands) {
            this.commands = commands;
            commands.forEach(c -> byCommand.put(c, new ArrayList<>()));
        }

        public List<Sample> of(Command c) {
            return byCommand.get(c);
        }

        public double medianWall(Command c) {
            return median(of(c).stream().mapToDouble(Sample::wall).toArray());
        }

        public double medianCpu(Command c) {
            return median(of(c).stream().mapToDouble(Sample::cpu).toArray());
        }

        /** Per-round wall-time ratios a/b, sorted. */
        public double[] ratios(Command a, Command b) {
            double[] q = SideBySide.ratios(of(a), of(b), Sample::wall);
            Arrays.sort(q);
            return q;
        }
    }

    /**
     * Runs {@code warmups} untimed rounds, then {@code rounds} timed ones, each command once per
     * round in rotating order. A command that exits non-zero stops the benchmark with its output's tail.
     */
    public static Samples run(List<Command> commands, int warmups, int rounds) throws Exception {
        Samples s = new Samples(commands);
        for (int w = 0; w < warmups; w++) {
            System.err.printf("warm-up %d/%d ...%n", w + 1, warmups);
            for (Command c : commands) once(c);
        }
        for (int r = 0; r < rounds; r++) {
            System.err.printf("round %d/%d ...%n", r + 1, rounds);
            for (int k = 0; k < commands.size(); k++) {
                Command c = commands.get((k + r) % commands.size());
                s.of(c).add(once(c));
            }
        }
        return s;
    }

    /** One whole process: empty stdin, output kept in a scratch file for the error message; wall clock and reaped CPU. */
    public static Sample once(Command c) throws Exception {
        c.setup().run();
        Path log = Files.createTempFile("bench-", ".log");
        try {
            ProcessBuilder pb = new ProcessBuilder(c.argv()).directory(c.dir().toFile())
                    .redirectOutput(log.toFile()).redirectErrorStream(true)
                    .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")));
            pb.environment().putAll(c.env());
            double cpu0 = childCpu();
            long t0 = System.nanoTime();
            Process p = pb.start();
            if (!p.waitFor(30, TimeUnit.MINUTES)) {
                p.destroyForcibly();
                throw new IllegalStateException(c.label() + " did not finish in 30 minutes");
            }
            double wall = (System.nanoTime() - t0) / 1e9;
            double cpu = childCpu() - cpu0;
            if (p.exitValue() != 0) {
                List<String> lines = Files.readAllLines(log);
                throw new IllegalStateException(c.label() + " exited with " + p.exitValue() + ": " + String.join(" ", c.argv())
                        + "\n  " + String.join("\n  ", lines.subList(Math.max(0, lines.size() - 15), lines.size())));
            }
            return new Sample(wall, cpu);
        } finally {
            Files.deleteIfExists(log);
        }
    }

    /**
     * The table: per command the median, min and max wall seconds, median CPU seconds and the
     * median of its per-round ratios to {@code reference} (null: no ratio column).
     */
    public static void printTable(Samples s, Command reference) {
        boolean cpu = s.byCommand.values().stream().flatMap(List::stream).anyMatch(x -> x.cpu() > 0);
        String refName = reference == null ? "" : "× " + shorten(reference.label(), 14);
        System.out.printf("%-40s %8s %8s %8s %8s %16s%n", "command (whole process)", "median s", "min s", "max s", "cpu s", refName);
        for (Command c : s.commands) {
            double[] wall = s.of(c).stream().mapToDouble(Sample::wall).sorted().toArray();
            String ratio = "";
            if (reference != null && c != reference) {
                double[] q = s.ratios(c, reference);
                ratio = String.format("%.2f× (%.2f-%.2f)", median(q), q[0], q[q.length - 1]);
            }
            System.out.printf("%-40s %8.3f %8.3f %8.3f %8s %16s%n", shorten(c.label(), 40), median(wall), wall[0], wall[wall.length - 1],
                    cpu ? String.format("%.2f", s.medianCpu(c)) : "-", ratio);
        }
    }

    /** "a / b: median× (min-max)" of the per-round wall-time ratios. */
    public static String pair(Samples s, Command a, Command b) {
        double[] q = s.ratios(a, b);
        return String.format("%.2f× (%.2f-%.2f)", median(q), q[0], q[q.length - 1]);
    }

    static String shorten(String s, int n) {
        return s.length() <= n ? s : s.substring(0, n - 1) + "…";
    }

    /** User + system seconds of this process's reaped children (fields 16 and 17 of /proc/self/stat); 0 elsewhere. */
    public static double childCpu() {
        try {
            String stat = Files.readString(Path.of("/proc/self/stat"));
            String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
            return (Long.parseLong(f[13]) + Long.parseLong(f[14])) / 100.0; // fields 16, 17 counted from "state" (field 3)
        } catch (IOException | RuntimeException e) {
            return 0;
        }
    }

    public static double[] ratios(List<Sample> a, List<Sample> b, ToDoubleFunction<Sample> f) {
        double[] q = new double[a.size()];
        for (int i = 0; i < q.length; i++) q[i] = f.applyAsDouble(a.get(i)) / Math.max(1e-3, f.applyAsDouble(b.get(i)));
        return q;
    }

    public static double median(double[] v) {
        double[] s = v.clone();
        Arrays.sort(s);
        int n = s.length;
        if (n == 0) return Double.NaN;
        return n % 2 == 1 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
    }

    /** The java the kit's launcher would pick: JAVA_HOME's, else the one on PATH. */
    public static String javaCommand() {
        String home = System.getenv("JAVA_HOME");
        if (home != null && Files.isExecutable(Path.of(home, "bin", "java"))) return Path.of(home, "bin", "java").toString();
        return "java";
    }

    /** The kit's root: KIT_ROOT, else the nearest folder upwards holding jbang-catalog.json. */
    public static Path kitRoot() {
        String r = System.getenv("KIT_HOME");
        Path p = r != null ? Path.of(r) : Path.of("").toAbsolutePath();
        while (p != null && !Files.isRegularFile(p.resolve("jbang-catalog.json"))) p = p.getParent();
        if (p == null) throw new IllegalStateException("run this from inside the kit (no jbang-catalog.json found)");
        return p.toAbsolutePath();
    }

    public static void copyTree(Path from, Path to) throws IOException {
        try (Stream<Path> s = Files.walk(from)) {
            for (Path p : (Iterable<Path>) s::iterator) {
                Path t = to.resolve(from.relativize(p).toString());
                if (Files.isDirectory(p)) Files.createDirectories(t);
                else Files.copy(p, t);
            }
        }
    }

    public static void deleteTree(Path dir) throws IOException {
        if (!Files.exists(dir)) return;
        try (Stream<Path> s = Files.walk(dir)) {
            for (Path p : (Iterable<Path>) s.sorted(Comparator.reverseOrder())::iterator) Files.deleteIfExists(p);
        }
    }
}
