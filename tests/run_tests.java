///usr/bin/env jbang "$0" "$@" ; exit $?
//JAVA 17+
//DEPS info.picocli:picocli:4.7.7
//DEPS org.junit.jupiter:junit-jupiter-engine:5.14.4
//DEPS org.junit.jupiter:junit-jupiter-params:5.14.4
//DEPS org.junit.platform:junit-platform-launcher:1.14.4
//SOURCES ../process_uploads.java ../lib/*.java ../steps/*.java ../sandbox/*.java support/*.java *Test.java
//JAVA_OPTIONS -Xmx4g

/*
 * The kit's test run: `./jbang test`.
 * 1. builds every script on its own (process_uploads.java, steps/, sandbox/, bench/), so a
 *    script whose //DEPS or //SOURCES no longer add up fails the run;
 * 2. runs every JUnit 5 test class tests/*Test.java;
 * 3. ends with one line "N passed, N failed, N skipped"; exit 0 only when none failed.
 * Options:  --no-build        skip step 1 (quicker while editing tests)
 *           NameTest ...      run only these test classes (a name may end in *)
 * Example:  ./jbang test BackupTest --no-build
 */
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.platform.engine.TestExecutionResult;
import org.junit.platform.engine.discovery.DiscoverySelectors;
import org.junit.platform.engine.support.descriptor.ClassSource;
import org.junit.platform.engine.support.descriptor.MethodSource;
import org.junit.platform.launcher.Launcher;
import org.junit.platform.launcher.LauncherDiscoveryRequest;
import org.junit.platform.launcher.TestExecutionListener;
import org.junit.platform.launcher.TestIdentifier;
import org.junit.platform.launcher.core.LauncherDiscoveryRequestBuilder;
import org.junit.platform.launcher.core.LauncherFactory;

public class run_tests {
    static int passed, failed, skipped;
    static final List<String> failures = new ArrayList<>();

    public static void main(String[] argv) throws Exception {
        boolean build = true;
        List<String> only = new ArrayList<>();
        for (String a : argv) {
            if (a.equals("--no-build")) build = false;
            else if (a.equals("--help") || a.equals("-h")) {
                System.out.println("Usage: ./jbang test [--no-build] [NameTest ...]\n\nBuilds every script, runs every JUnit 5 test under tests/,"
                        + " and ends with 'N passed, N failed, N skipped'.");
                return;
            } else only.add(a);
        }
        Path root = KitConfig.findRoot();
        long t0 = System.nanoTime();
        if (build && only.isEmpty()) buildScripts(root);
        runJUnit(root, only);
        System.out.printf("%nTime: %.1f s%n", (System.nanoTime() - t0) / 1e9);
        if (!failures.isEmpty()) {
            System.out.println("Failed:");
            for (String f : failures) System.out.println("  - " + f);
        }
        System.out.println(passed + " passed, " + failed + " failed, " + skipped + " skipped");
        System.exit(failed == 0 ? 0 : 1);
    }

    /** Every script must build alone, exactly as a user runs it. Two at a time (2 cores). */
    static void buildScripts(Path root) throws Exception {
        List<Path> scripts = new ArrayList<>();
        if (Files.exists(root.resolve("process_uploads.java"))) scripts.add(root.resolve("process_uploads.java"));
        for (String dir : List.of("steps", "sandbox", "bench")) {
            Path d = root.resolve(dir);
            if (!Files.isDirectory(d)) continue;
            try (Stream<Path> s = Files.list(d)) {
                s.filter(p -> p.toString().endsWith(".java")).sorted().forEach(scripts::add);
            }
        }
        System.out.println("Building " + scripts.size() + " scripts ...");
        ExecutorService pool = Executors.newFixedThreadPool(2);
        List<Future<String>> results = new ArrayList<>();
        for (Path script : scripts) results.add(pool.submit(() -> buildOne(root, script)));
        List<String> problems = new ArrayList<>();
        for (Future<String> f : results) problems.add(f.get());
        pool.shutdown();
        for (int i = 0; i < scripts.size(); i++) {
            // Two JBang builds at once can trip over JBang's own dependency cache: a failed build is
            // tried once more, alone, before it counts as a failure.
            String problem = problems.get(i) == null ? null : buildOne(root, scripts.get(i));
            String name = root.relativize(scripts.get(i)).toString();
            if (problem == null) {
                passed++;
                System.out.println("  built  " + name);
            } else {
                failed++;
                failures.add("build " + name);
                System.out.println("  FAILED " + name + "\n" + problem.indent(6));
            }
        }
    }

    static String buildOne(Path root, Path script) throws IOException, InterruptedException {
        Path log = Files.createTempFile("build", ".log");
        try {
            Process p = new ProcessBuilder(root.resolve("jbang").toString(), "build", script.toString())
                    .directory(root.toFile()).redirectErrorStream(true).redirectOutput(log.toFile()).start();
            if (!p.waitFor(10, TimeUnit.MINUTES)) {
                p.destroyForcibly();
                return "build timed out";
            }
            return p.exitValue() == 0 ? null : Files.readString(log, StandardCharsets.UTF_8);
        } finally {
            Files.deleteIfExists(log);
        }
    }

    static void runJUnit(Path root, List<String> only) throws IOException {
        List<String> classes = new ArrayList<>();
        try (Stream<Path> s = Files.list(root.resolve("tests"))) {
            s.map(p -> p.getFileName().toString()).filter(n -> n.endsWith("Test.java")).sorted()
                    .map(n -> n.substring(0, n.length() - 5))
                    .filter(c -> only.isEmpty() || only.stream().anyMatch(o -> o.endsWith("*") ? c.startsWith(o.substring(0, o.length() - 1)) : c.equals(o)))
                    .forEach(classes::add);
        }
        System.out.println("Running " + classes.size() + " test classes ...");
        LauncherDiscoveryRequestBuilder req = LauncherDiscoveryRequestBuilder.request();
        for (String c : classes) req.selectors(DiscoverySelectors.selectClass(c));
        LauncherDiscoveryRequest request = req.build();
        Launcher launcher = LauncherFactory.create();
        launcher.execute(request, new TestExecutionListener() {
            final java.util.Map<String, Long> started = new java.util.concurrent.ConcurrentHashMap<>();

            @Override
            public void executionStarted(TestIdentifier id) {
                started.put(id.getUniqueId(), System.nanoTime());
            }

            @Override
            public void executionSkipped(TestIdentifier id, String reason) {
                if (!id.isTest()) return;
                skipped++;
                System.out.println("  skip   " + name(id) + " (" + reason + ")");
            }

            @Override
            public void executionFinished(TestIdentifier id, TestExecutionResult result) {
                long ms = (System.nanoTime() - started.getOrDefault(id.getUniqueId(), System.nanoTime())) / 1_000_000;
                if (!id.isTest()) {
                    // a failure in a class's @BeforeAll/@AfterAll fails the class as a whole
                    if (result.getStatus() != TestExecutionResult.Status.SUCCESSFUL && id.isContainer() && id.getSource().isPresent()) {
                        failed++;
                        failures.add(id.getDisplayName() + " (setup)");
                        report(id, result);
                    }
                    return;
                }
                switch (result.getStatus()) {
                    case SUCCESSFUL -> {
                        passed++;
                        System.out.println("  ok     " + name(id) + "  (" + ms + " ms)");
                    }
                    case ABORTED -> {
                        skipped++;
                        System.out.println("  skip   " + name(id) + " (" + result.getThrowable().map(Throwable::getMessage).orElse("aborted") + ")");
                    }
                    case FAILED -> {
                        failed++;
                        failures.add(name(id));
                        report(id, result);
                    }
                }
            }

            /** "Class.method()" from the test's own source descriptor, as JUnit gives it. */
            String name(TestIdentifier id) {
                String cls = id.getSource().map(src -> src instanceof MethodSource m ? m.getClassName()
                        : src instanceof ClassSource c ? c.getClassName() : "").orElse("");
                return (cls.isEmpty() ? "" : cls + ".") + id.getDisplayName();
            }

            void report(TestIdentifier id, TestExecutionResult result) {
                System.out.println("  FAILED " + name(id));
                result.getThrowable().ifPresent(t -> {
                    PrintWriter w = new PrintWriter(System.out, true);
                    String trace = stackTrace(t);
                    System.out.println(trace.indent(6));
                    w.flush();
                });
            }
        });
    }

    static String stackTrace(Throwable t) {
        java.io.StringWriter sw = new java.io.StringWriter();
        t.printStackTrace(new PrintWriter(sw));
        String[] lines = sw.toString().split("\n");
        StringBuilder sb = new StringBuilder();
        int shown = 0;
        for (String l : lines) {
            if (l.contains("org.junit.") || l.contains("java.base/jdk.internal")) continue;
            sb.append(l).append('\n');
            if (++shown >= 25) break;
        }
        return sb.toString();
    }
}
