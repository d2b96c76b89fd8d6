///usr/bin/env jbang "$0" "$@" ; exit $?
//JAVA 17+

/*
 * Start-up benchmark: what a user waits for before a step does anything, timed as whole
 * processes the way a user runs them, against `java -version` on the same JDK (the floor of
 * any Java command). Each round runs every command once, in an order that rotates from round
 * to round; the table gives medians over the rounds and, per round, each command's ratio to
 * `java -version` of that same round (so a machine that speeds up or slows down in between
 * moves both alike), then per-round ratios of the old launcher to the current one.
 *
 *   java -version
 *   ./jbang steps/backup.java --help       the script named by its path
 *   ./jbang backup --help                  the same by its alias (jbang-catalog.json)
 *   ./jbang backup --data-dir <copy>       a real backup of a scratch copy of an archive
 *
 * "before" is the launcher of commit 846b4eb (every command went through JBang's own JVM
 * first), written from git history to .kit/bench/ with its root pointed at this kit; without
 * git, or with --no-before, only the current launcher is timed. Child CPU seconds come from
 * the kernel's accounting of reaped children (/proc/self/stat, 10 ms ticks; Linux only).
 *
 * Options:  --rounds N     rounds (default 9)
 *           --data DIR     archive folder to copy for the real run
 *                          (default ../shared/fixtures/legacy-archive/data, else data/)
 *           --no-before    time the current launcher only
 * Example:  ./jbang bench/startup.java --rounds 11
 */
import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

public class startup {
    static final String BEFORE_COMMIT = "846b4eb";

    record Command(String label, List<String> argv) {}

    record Sample(double wall, double cpu) {}

    public static void main(String[] argv) throws Exception {
        int rounds = 9;
        boolean before = true;
        Path dataArg = null;
        for (int i = 0; i < argv.length; i++) {
            switch (argv[i]) {
                case "--rounds" -> rounds = Integer.parseInt(argv[++i]);
                case "--data" -> dataArg = Path.of(argv[++i]);
                case "--no-before" -> before = false;
                case "-h", "--help" -> {
                    System.out.println("Usage: ./jbang bench/startup.java [--rounds N] [--data DIR] [--no-before]\n\n"
                            + "Times java -version, ./jbang steps/backup.java --help, ./jbang backup --help and a real\n"
                            + "./jbang backup as whole processes, in rotating order, medians and per-round ratios;\n"
                            + "the launcher of commit " + BEFORE_COMMIT + " beside the current one.");
                    return;
                }
                default -> {
                    System.err.println("unknown option " + argv[i] + " (try --help)");
                    System.exit(2);
                }
            }
        }
        Path root = kitRoot();
        Path data = dataArg != null ? dataArg : Stream.of(root.resolve("../shared/fixtures/legacy-archive/data").normalize(), root.resolve("data"))
                .filter(d -> Files.isRegularFile(d.resolve("identities.json"))).findFirst().orElse(null);
        if (data == null || !Files.isRegularFile(data.resolve("identities.json"))) {
            System.err.println("no archive folder with identities.json to copy: give one with --data DIR");
            System.exit(2);
        }
        Path scratch = Files.createTempDirectory("kit-startup-bench");
        try {
            Path copy = scratch.resolve("data");
            copyTree(data, copy);
            String java = javaCommand();
            String now = root.resolve("jbang").toString();
            String old = before ? oldLauncher(root) : null;

            List<Command> commands = new ArrayList<>();
            commands.add(new Command("java -version", List.of(java, "-version")));
            for (String[] shape : new String[][] {
                    {"steps/backup.java --help", "steps/backup.java", "--help"},
                    {"backup --help", "backup", "--help"},
                    {"backup --data-dir <copy>", "backup", "--data-dir", copy.toString()}}) {
                if (old != null) commands.add(new Command("before: " + shape[0], argv(old, shape)));
                commands.add(new Command("after:  " + shape[0], argv(now, shape)));
            }

            System.out.printf("Start-up, whole processes, %d rounds, JDK %s, %d cores%n", rounds, System.getProperty("java.version"),
                    Runtime.getRuntime().availableProcessors());
            System.out.println("Warm-up (builds, caches, and the class-data archive the first real run records) ...");
            for (int w = 0; w < 2; w++) for (Command c : commands) run(root, c);

            Map<Command, List<Sample>> samples = new LinkedHashMap<>();
            commands.forEach(c -> samples.put(c, new ArrayList<>()));
            for (int r = 0; r < rounds; r++) {
                for (int k = 0; k < commands.size(); k++) {
                    Command c = commands.get((k + r) % commands.size());
                    samples.get(c).add(run(root, c));
                }
            }

            List<Sample> floor = samples.get(commands.get(0));
            boolean cpu = floor.stream().anyMatch(s -> s.cpu() > 0);
            System.out.println();
            System.out.printf("%-34s %8s %8s %8s %8s %12s%s%n", "command", "median s", "min s", "max s", "cpu s", "× java -ver", cpu ? " (cpu ×)" : "");
            for (Command c : commands) {
                List<Sample> s = samples.get(c);
                double[] wall = s.stream().mapToDouble(Sample::wall).sorted().toArray();
                System.out.printf("%-34s %8.3f %8.3f %8.3f %8s %12s%s%n", c.label(), median(wall), wall[0], wall[wall.length - 1],
                        cpu ? String.format("%.2f", median(s.stream().mapToDouble(Sample::cpu).toArray())) : "-",
                        String.format("%.1f×", median(ratios(s, floor, Sample::wall))),
                        cpu && c != commands.get(0) ? String.format(" (%.1f×)", median(ratios(s, floor, Sample::cpu))) : "");
            }
            if (old != null) {
                System.out.println();
                System.out.println("before/after, per round (median, min-max of the wall-time ratios):");
                for (int i = 1; i + 1 < commands.size(); i += 2) {
                    double[] q = ratios(samples.get(commands.get(i)), samples.get(commands.get(i + 1)), Sample::wall);
                    Arrays.sort(q);
                    System.out.printf("  %-30s %5.1f×  (%.1f-%.1f)%n", commands.get(i + 1).label().substring(8), median(q), q[0], q[q.length - 1]);
                }
            }
        } finally {
            deleteTree(scratch);
        }
    }

    static List<String> argv(String launcher, String[] shape) {
        List<String> a = new ArrayList<>();
        a.add(launcher);
        a.addAll(Arrays.asList(shape).subList(1, shape.length));
        return a;
    }

    /** One whole process: empty stdin, output thrown away; wall clock and the CPU of what it reaped. */
    static Sample run(Path root, Command c) throws IOException, InterruptedException {
        ProcessBuilder pb = new ProcessBuilder(c.argv()).directory(root.toFile())
                .redirectOutput(ProcessBuilder.Redirect.DISCARD).redirectError(ProcessBuilder.Redirect.DISCARD)
                .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")));
        double cpu0 = childCpu();
        long t0 = System.nanoTime();
        Process p = pb.start();
        if (!p.waitFor(5, TimeUnit.MINUTES)) {
            p.destroyForcibly();
            throw new IllegalStateException(c.label() + " did not finish in 5 minutes");
        }
        double wall = (System.nanoTime() - t0) / 1e9;
        double cpu = childCpu() - cpu0;
        if (p.exitValue() != 0) throw new IllegalStateException(c.label() + " exited with " + p.exitValue() + ": " + String.join(" ", c.argv()));
        return new Sample(wall, cpu);
    }

    /** User + system seconds of this process's reaped children (fields 16 and 17 of /proc/self/stat); 0 elsewhere. */
    static double childCpu() {
        try {
            String stat = Files.readString(Path.of("/proc/self/stat"));
            String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
            return (Long.parseLong(f[13]) + Long.parseLong(f[14])) / 100.0; // fields 16, 17 counted from "state" (field 3)
        } catch (IOException | RuntimeException e) {
            return 0;
        }
    }

    static double[] ratios(List<Sample> a, List<Sample> b, java.util.function.ToDoubleFunction<Sample> f) {
        double[] q = new double[a.size()];
        for (int i = 0; i < q.length; i++) q[i] = f.applyAsDouble(a.get(i)) / Math.max(1e-3, f.applyAsDouble(b.get(i)));
        return q;
    }

    static double median(double[] v) {
        double[] s = v.clone();
        Arrays.sort(s);
        int n = s.length;
        return n % 2 == 1 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
    }

    /** The java the kit's launcher would pick: JAVA_HOME's, else the one on PATH. */
    static String javaCommand() {
        String home = System.getenv("JAVA_HOME");
        if (home != null && Files.isExecutable(Path.of(home, "bin", "java"))) return Path.of(home, "bin", "java").toString();
        return "java";
    }

    static Path kitRoot() {
        String r = System.getenv("KIT_ROOT");
        Path p = r != null ? Path.of(r) : Path.of("").toAbsolutePath();
        while (p != null && !Files.isRegularFile(p.resolve("jbang-catalog.json"))) p = p.getParent();
        if (p == null) throw new IllegalStateException("run this from inside the kit (no jbang-catalog.json found)");
        return p.toAbsolutePath();
    }

    /**
     * The launcher as it was at BEFORE_COMMIT, with its root fixed to this kit (it found the root
     * from its own location), in .kit/bench/. Null, with a note, when git cannot give it.
     */
    static String oldLauncher(Path root) throws IOException, InterruptedException {
        Process p = new ProcessBuilder("git", "show", BEFORE_COMMIT + ":jbang").directory(root.toFile())
                .redirectError(ProcessBuilder.Redirect.DISCARD).start();
        String text = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        String rootLine = "KIT_ROOT=\"$(cd \"$(dirname \"${BASH_SOURCE[0]}\")\" && pwd)\"";
        if (p.waitFor() != 0 || !text.contains(rootLine)) {
            System.out.println("(no launcher of commit " + BEFORE_COMMIT + " from git: timing the current launcher only)");
            return null;
        }
        text = text.replace(rootLine, "KIT_ROOT='" + root.toString().replace("'", "'\\''") + "'");
        Path dir = Files.createDirectories(root.resolve(".kit/bench"));
        Path file = dir.resolve("jbang-" + BEFORE_COMMIT);
        Path tmp = Files.createTempFile(dir, "jbang-", ".tmp");
        Files.writeString(tmp, text);
        tmp.toFile().setExecutable(true);
        Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        return file.toString();
    }

    static void copyTree(Path from, Path to) throws IOException {
        try (Stream<Path> s = Files.walk(from)) {
            for (Path p : (Iterable<Path>) s::iterator) {
                Path t = to.resolve(from.relativize(p).toString());
                if (Files.isDirectory(p)) Files.createDirectories(t);
                else Files.copy(p, t);
            }
        }
    }

    static void deleteTree(Path dir) throws IOException {
        try (Stream<Path> s = Files.walk(dir)) {
            for (Path p : (Iterable<Path>) s.sorted(Comparator.reverseOrder())::iterator) Files.deleteIfExists(p);
        }
    }
}
