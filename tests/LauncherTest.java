import static org.junit.jupiter.api.Assertions.*;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The launcher ./jbang as a user meets it: a script that has not changed runs without JBang's
 * JVM, and every change that matters goes back through JBang. Each test runs a scratch kit (its
 * own ./jbang, catalog, steps/ and lib/, sharing only the fetched JBang) so editing its sources
 * touches nothing of the real kit.
 */
class LauncherTest {
    static final Map<String, String> DEBUG = Map.of("KIT_LAUNCH_DEBUG", "1");

    static final String HELLO = """
            ///usr/bin/env jbang "$0" "$@" ; exit $?
            //SOURCES ../lib/*.java
            public class hello {
                public static void main(String[] a) throws Exception {
                    if (a.length > 0 && a[0].equals("--help")) {
                        System.out.println("usage: hello [--exit N]");
                        return;
                    }
                    String in = new String(System.in.readAllBytes(), java.nio.charset.StandardCharsets.UTF_8).strip();
                    System.out.println(Greeting.text() + " stdin=" + in + " args=" + String.join("|", a) + " root=" + System.getenv("KIT_ROOT"));
                    System.exit(a.length > 1 && a[0].equals("--exit") ? Integer.parseInt(a[1]) : 0);
                }
            }
            """;

    /** A kit with one script whose words come two //SOURCES hops away (a glob, then a plain path). */
    static Path scratchKit(Path dir) throws Exception {
        Path real = KitProcess.root();
        Files.copy(real.resolve("jbang"), dir.resolve("jbang"));
        dir.resolve("jbang").toFile().setExecutable(true);
        Files.createDirectories(dir.resolve(".kit"));
        try (Stream<Path> s = Files.list(real.resolve(".kit"))) {
            for (Path p : (Iterable<Path>) s.filter(p -> p.getFileName().toString().startsWith("jbang-"))::iterator) {
                Files.createSymbolicLink(dir.resolve(".kit").resolve(p.getFileName()), p);
            }
        }
        Files.writeString(dir.resolve("jbang-catalog.json"), """
                {
                  "aliases": {
                    "hello": { "script-ref": "steps/hello.java", "description": "says hello" }
                  }
                }
                """);
        Files.createDirectories(dir.resolve("steps"));
        Files.createDirectories(dir.resolve("lib/words"));
        Files.writeString(dir.resolve("steps/hello.java"), HELLO);
        Files.writeString(dir.resolve("lib/Greeting.java"), """
                //SOURCES words/Words.java
                class Greeting {
                    static String text() { return Words.HELLO; }
                }
                """);
        words(dir, "hello-1");
        return dir;
    }

    static void words(Path kit, String hello) throws Exception {
        Files.writeString(kit.resolve("lib/words/Words.java"), "class Words { static final String HELLO = \"" + hello + "\"; }\n");
    }

    /** The script run with this on its stdin. */
    static KitProcess.Result feed(Path kit, String stdin, String script, String... args) throws Exception {
        return KitProcess.runIn(kit, DEBUG, stdin, script, args);
    }

    static KitProcess.Result run(Path kit, String script, String... args) throws Exception {
        return feed(kit, null, script, args);
    }

    static void assertLaunch(String how, KitProcess.Result r) {
        assertTrue(r.stderr().contains("kit-launch: " + how), "expected a launch via '" + how + "':\n" + r.stderr());
    }

    @Test
    void theSecondRunOfAnUnchangedScriptSkipsJBang_byPathAndByAlias(@TempDir Path dir) throws Exception {
        Path kit = scratchKit(dir);
        KitProcess.Result first = run(kit, "steps/hello.java", "--help");
        assertEquals(0, first.exitCode(), first.all());
        assertLaunch("jbang", first);
        KitProcess.Result second = run(kit, "steps/hello.java", "--help");
        assertEquals(0, second.exitCode(), second.all());
        assertLaunch("cached", second);
        assertEquals(first.stdout(), second.stdout());

        assertLaunch("jbang", run(kit, "hello", "--help"));
        KitProcess.Result alias = run(kit, "hello", "--help");
        assertLaunch("cached", alias);
        assertEquals(first.stdout(), alias.stdout());

        // JBang's own subcommands are JBang's business, as before.
        KitProcess.Result build = run(kit, "build", "steps/hello.java");
        assertEquals(0, build.exitCode(), build.all());
        assertLaunch("jbang", build);
    }

    @Test
    void editingASourcedFileRebuildsAndTheNextRunHasTheChange(@TempDir Path dir) throws Exception {
        Path kit = scratchKit(dir);
        feed(kit, "", "hello");
        KitProcess.Result cached = feed(kit, "", "hello");
        assertLaunch("cached", cached);
        assertTrue(cached.stdout().startsWith("hello-1 "), cached.all());

        // Words.java is reached only through lib/Greeting.java's own //SOURCES line.
        words(kit, "hello-2");
        KitProcess.Result rebuilt = feed(kit, "", "hello");
        assertLaunch("jbang", rebuilt);
        assertTrue(rebuilt.stdout().startsWith("hello-2 "), rebuilt.all());
        KitProcess.Result again = feed(kit, "", "hello");
        assertLaunch("cached", again);
        assertTrue(again.stdout().startsWith("hello-2 "), again.all());

        // A new file matching the script's glob (../lib/*.java) is a change too.
        Files.writeString(kit.resolve("lib/Extra.java"), "class Extra {}\n");
        assertLaunch("jbang", feed(kit, "", "hello"));
        assertLaunch("cached", feed(kit, "", "hello"));
    }

    @Test
    void stdinExitCodeAndKitRootPassThroughBothWays(@TempDir Path dir, @TempDir Path other) throws Exception {
        Path kit = scratchKit(dir);
        KitProcess.Result viaJBang = feed(kit, "from stdin", "hello", "--exit", "7");
        assertLaunch("jbang", viaJBang);
        KitProcess.Result cached = feed(kit, "from stdin", "hello", "--exit", "7");
        assertLaunch("cached", cached);
        for (KitProcess.Result r : List.of(viaJBang, cached)) {
            assertEquals(7, r.exitCode(), r.all());
            assertEquals("hello-1 stdin=from stdin args=--exit|7 root=" + kit, r.stdout().strip());
        }
        // Arguments that need quoting, and an empty one, arrive as given, through JBang and cached.
        String[] odd = {"it's", "$HOME", "a  b", "", "\"x\"", "*"};
        for (int i = 0; i < 2; i++) {
            KitProcess.Result quoted = feed(kit, "", "steps/hello.java", odd);
            assertLaunch(i == 0 ? "jbang" : "cached", quoted);
            assertEquals("hello-1 stdin= args=" + String.join("|", odd) + " root=" + kit, quoted.stdout().strip());
        }

        KitProcess.Result overridden = KitProcess.runIn(kit, Map.of("KIT_LAUNCH_DEBUG", "1", "KIT_ROOT", other.toString()), "", "hello");
        assertLaunch("cached", overridden);
        assertEquals("hello-1 stdin= args= root=" + other, overridden.stdout().strip());
    }

    @Test
    void aClasspathEntryThatIsGoneSendsTheRunBackThroughJBang(@TempDir Path dir) throws Exception {
        Path kit = scratchKit(dir);
        run(kit, "hello", "--help");
        assertLaunch("cached", run(kit, "hello", "--help"));
        Path jar = null;
        for (String word : new String(Files.readAllBytes(kit.resolve(".kit/launch/alias=hello.cmd")), StandardCharsets.UTF_8).split("\0")) {
            for (String entry : word.split(":")) if (entry.endsWith("hello.jar")) jar = Path.of(entry);
        }
        assertNotNull(jar, "the cached command names the script's jar");
        Files.delete(jar);
        KitProcess.Result r = run(kit, "hello", "--help");
        assertEquals(0, r.exitCode(), r.all());
        assertLaunch("jbang (classpath entry gone", r);
        assertEquals("usage: hello [--exit N]", r.stdout().strip());
        assertLaunch("cached", run(kit, "hello", "--help"));
    }

    static boolean classDataArchives() {
        Path javaHome = Path.of(System.getProperty("java.home"));
        return Runtime.version().feature() >= 25
                || Runtime.version().feature() >= 13 && Files.isRegularFile(javaHome.resolve("lib/server/classes.jsa"));
    }

    /** Runs {@code script} until a run maps the archive the earlier ones recorded and built (the build runs in the background). */
    static KitProcess.Result runUntilMapped(Path kit, Map<String, String> env, String script) throws Exception {
        Map<String, String> e = new java.util.HashMap<>(DEBUG);
        e.putAll(env);
        long deadline = System.nanoTime() + 180_000_000_000L;
        while (true) {
            KitProcess.Result r = KitProcess.runIn(kit, e, "", script);
            assertEquals(0, r.exitCode(), r.all());
            if (r.stderr().contains(": use")) return r;
            assertFalse(r.stderr().contains("failed"), r.all());
            assertTrue(System.nanoTime() < deadline, "the archive was not built within 3 minutes");
            Thread.sleep(500);
        }
    }

    @Test
    void aRealRunRecordsTheNextBuildsAndLaterRunsMapTheArchive(@TempDir Path dir) throws Exception {
        assumeTrue(classDataArchives(), "this JDK has no class-data archives");
        Path kit = scratchKit(dir);
        KitProcess.Result help = feed(kit, "", "hello", "--help");
        assertFalse(help.stderr().contains(": record"), "a --help run records nothing:\n" + help.stderr());
        KitProcess.Result recording = feed(kit, "", "hello");
        assertTrue(recording.stderr().matches("(?s).*kit-launch: (class-data archive|AOT cache): record.*"), recording.all());
        KitProcess.Result building = feed(kit, "", "hello");
        assertTrue(building.stderr().contains(": build (in the background)"), building.all());
        KitProcess.Result mapped = runUntilMapped(kit, Map.of(), "hello");
        for (KitProcess.Result r : List.of(recording, building, mapped)) {
            assertEquals(recording.stdout(), r.stdout(), "the same output whether recording, building or mapping");
            assertEquals("", r.stderr().lines().filter(l -> !l.startsWith("kit-launch:")).reduce("", String::concat),
                    "the JVM says nothing about the archive:\n" + r.stderr());
        }
        try (Stream<Path> s = Files.list(kit.resolve(".kit/launch"))) {
            List<String> names = s.map(p -> p.getFileName().toString()).filter(n -> n.startsWith("alias=hello.")).sorted().toList();
            assertEquals(2, names.size(), "the command and one archive, nothing left over: " + names);
            assertTrue(names.contains("alias=hello.cmd") && names.stream().anyMatch(n -> n.endsWith(".aot") || n.endsWith(".jsa")), names.toString());
        }

        // A code change retires the archive with the command.
        words(kit, "hello-3");
        KitProcess.Result rebuilt = feed(kit, "", "hello");
        assertTrue(rebuilt.stdout().startsWith("hello-3 "), rebuilt.all());
        assertTrue(rebuilt.stderr().contains(": record"), rebuilt.all());
        try (Stream<Path> s = Files.list(kit.resolve(".kit/launch"))) {
            assertEquals(0, s.filter(p -> p.toString().endsWith(".jsa") || p.toString().endsWith(".aot")).count(), "the old archive is gone");
        }

        KitProcess.Result off = KitProcess.runIn(kit, Map.of("KIT_LAUNCH_DEBUG", "1", "KIT_LAUNCH_CDS", "0"), "", "hello");
        assertFalse(off.stderr().contains("archive") || off.stderr().contains("AOT"), off.stderr());
        assertTrue(off.stdout().startsWith("hello-3 "), off.all());
    }

    /**
     * picocli is compiled for Java 5: a dynamic archive (-XX:ArchiveClassesAtExit) skips such
     * old class files, so every command loaded and verified its ~180 picocli classes from the
     * jar on every run. The archive now holds them.
     */
    @Test
    void classesOfOldClassFileVersionsComeFromTheArchive(@TempDir Path dir) throws Exception {
        assumeTrue(classDataArchives(), "this JDK has no class-data archives");
        Path kit = scratchKit(dir);
        Files.writeString(kit.resolve("steps/cli.java"), """
                //DEPS info.picocli:picocli:4.7.7
                import picocli.CommandLine;
                @CommandLine.Command(name = "cli")
                public class cli implements Runnable {
                    @CommandLine.Option(names = "--name") String name = "world";
                    public void run() { System.out.println("hello " + name); }
                    public static void main(String[] a) { System.exit(new CommandLine(new cli()).execute(a)); }
                }
                """);
        assertEquals("hello world", feed(kit, "", "steps/cli.java").stdout().strip());
        Path log = dir.resolve("classes.log");
        KitProcess.Result mapped = runUntilMapped(kit, Map.of("JAVA_TOOL_OPTIONS", "-Xlog:class+load=info:file=" + log), "steps/cli.java");
        assertEquals("hello world", mapped.stdout().strip());
        String loaded = Files.readString(log);
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("picocli\\.CommandLine source: (.*)").matcher(loaded);
        assertTrue(m.find(), "picocli.CommandLine was loaded");
        assertEquals("shared objects file", m.group(1).strip(), "picocli's main class comes from the archive, not " + m.group(1));
        long fromJar = loaded.lines().filter(l -> l.contains(" picocli.") && l.contains("source: file:")).count();
        assertTrue(fromJar < 30, fromJar + " picocli classes were still read from the jar");
    }

    @Test
    void runsStartedTogetherAfterAChangeAllSucceed(@TempDir Path dir) throws Exception {
        Path kit = scratchKit(dir);
        feed(kit, "", "hello");
        words(kit, "hello-4");
        ExecutorService pool = Executors.newFixedThreadPool(3);
        try {
            List<Future<KitProcess.Result>> runs = new ArrayList<>();
            for (int i = 0; i < 3; i++) runs.add(pool.submit(() -> feed(kit, "", "hello", "--exit", "0")));
            for (Future<KitProcess.Result> f : runs) {
                KitProcess.Result r = f.get();
                assertEquals(0, r.exitCode(), r.all());
                assertTrue(r.stdout().startsWith("hello-4 "), r.all());
            }
        } finally {
            pool.shutdown();
        }
        KitProcess.Result after = feed(kit, "", "hello");
        assertLaunch("cached", after);
        assertTrue(after.stdout().startsWith("hello-4 "), after.all());
    }

    /**
     * Matching at archive scale touches a few hundred megabytes of heap once; in 4 KB pages the
     * kernel's page faults cost it up to a tenth of its CPU time. Where Linux gives 2 MB pages
     * to whoever asks (transparent huge pages in "madvise" mode, Debian's default), a cached run
     * asks for them; KIT_LAUNCH_HUGE_PAGES=0 turns that off. The JVM says nothing about it.
     */
    @Test
    void whereLinuxGivesHugePagesOnRequestACachedRunAsksForThem(@TempDir Path dir) throws Exception {
        Path thp = Path.of("/sys/kernel/mm/transparent_hugepage/enabled");
        assumeTrue(Files.isReadable(thp) && Files.readString(thp).contains("[madvise]"), "no huge pages on request here");
        Path kit = scratchKit(dir);
        Files.writeString(kit.resolve("steps/pages.java"), """
                ///usr/bin/env jbang "$0" "$@" ; exit $?
                public class pages {
                    public static void main(String[] a) {
                        var vm = java.lang.management.ManagementFactory.getPlatformMXBean(com.sun.management.HotSpotDiagnosticMXBean.class);
                        System.out.println("UseTransparentHugePages=" + vm.getVMOption("UseTransparentHugePages").getValue());
                    }
                }
                """);
        assertEquals(0, run(kit, "steps/pages.java").exitCode());
        KitProcess.Result cached = run(kit, "steps/pages.java");
        assertLaunch("cached", cached);
        assertEquals("UseTransparentHugePages=true\n", cached.stdout(), cached.all());
        assertEquals("", cached.stderr().lines().filter(l -> !l.startsWith("kit-launch:")).reduce("", String::concat), cached.all());
        KitProcess.Result off = KitProcess.runIn(kit, Map.of("KIT_LAUNCH_DEBUG", "1", "KIT_LAUNCH_HUGE_PAGES", "0"), null, "steps/pages.java");
        assertLaunch("cached", off);
        assertEquals("UseTransparentHugePages=false\n", off.stdout(), off.all());
    }
}
