///usr/bin/env jbang "$0" "$@" ; exit $?
//JAVA 17+
//SOURCES support/SideBySide.java

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
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Stream;

public class startup {
    static final String BEFORE_COMMIT = "846b4eb";

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
        Path root = SideBySide.kitRoot();
        Path data = dataArg != null ? dataArg : Stream.of(root.resolve("../shared/fixtures/legacy-archive/data").normalize(), root.resolve("data"))
                .filter(d -> Files.isRegularFile(d.resolve("identities.json"))).findFirst().orElse(null);
        if (data == null || !Files.isRegularFile(data.resolve("identities.json"))) {
            System.err.println("no archive folder with identities.json to copy: give one with --data DIR");
            System.exit(2);
        }
        Path scratch = Files.createTempDirectory("kit-startup-bench");
        try {
            Path copy = scratch.resolve("data");
            SideBySide.copyTree(data, copy);
            String now = root.resolve("jbang").toString();
            String old = before ? oldLauncher(root) : null;

            List<SideBySide.Command> commands = new ArrayList<>();
            SideBySide.Command floor = new SideBySide.Command("java -version", List.of(SideBySide.javaCommand(), "-version"), root);
            commands.add(floor);
            List<SideBySide.Command[]> pairs = new ArrayList<>();
            for (String[] shape : new String[][] {
                    {"steps/backup.java --help", "steps/backup.java", "--help"},
                    {"backup --help", "backup", "--help"},
                    {"backup --data-dir <copy>", "backup", "--data-dir", copy.toString()}}) {
                SideBySide.Command after = new SideBySide.Command("after:  " + shape[0], argv(now, shape), root);
                if (old != null) {
                    SideBySide.Command b = new SideBySide.Command("before: " + shape[0], argv(old, shape), root);
                    commands.add(b);
                    pairs.add(new SideBySide.Command[] {b, after});
                }
                commands.add(after);
            }

            System.out.printf("Start-up, whole processes, %d rounds, JDK %s, %d cores%n", rounds, System.getProperty("java.version"),
                    Runtime.getRuntime().availableProcessors());
            System.out.println("(2 warm-up rounds first: builds, caches, and the class-data archive the first real run records)");
            SideBySide.Samples s = SideBySide.run(commands, 2, rounds);
            System.out.println();
            SideBySide.printTable(s, floor);
            if (!pairs.isEmpty()) {
                System.out.println();
                System.out.println("before/after, per round (median, min-max of the wall-time ratios):");
                for (SideBySide.Command[] p : pairs) System.out.printf("  %-30s %s%n", p[1].label().substring(8), SideBySide.pair(s, p[0], p[1]));
            }
        } finally {
            SideBySide.deleteTree(scratch);
        }
    }

    static List<String> argv(String launcher, String[] shape) {
        List<String> a = new ArrayList<>();
        a.add(launcher);
        a.addAll(Arrays.asList(shape).subList(1, shape.length));
        return a;
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


}
