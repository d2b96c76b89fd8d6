///usr/bin/env jbang "$0" "$@" ; exit $?
//JAVA 17+
//DEPS info.picocli:picocli:4.7.7
//JAVA_OPTIONS -Xmx4g
//SOURCES ../lib/KitException.java ../lib/AtomicFiles.java ../lib/JsonFiles.java ../lib/KitConfig.java
//SOURCES ../lib/StepMain.java ../lib/DataLock.java
//SOURCES ../lib/NpyPickleReader.java ../lib/EmbeddingStore.java ../lib/NpyFloatMatrix.java ../lib/LegacyEmbeddings.java ../lib/MatchThresholds.java ../lib/Matcher.java ../lib/FaceQuality.java
//SOURCES ../lib/Identities.java ../lib/FaceDistances.java ../lib/NearestIdentities.java ../lib/DistanceTerms.java ../lib/OnnxGraph.java ../lib/OnnxRuntimeLibraries.java
//SOURCES support/SideBySide.java ../tests/support/ClusterArchive.java

/*
 * Benchmark of step 4 (matching) as a user runs it: `./jbang cluster --data-dir <archive>`,
 * whole processes, timed with SideBySide (rotating order, medians, per-round ratios). For each
 * size (default 1k, 17.5k and 100k faces: people of 8 faces plus 1,500 new faces, fewer for
 * small archives; 17.5k = 2,000 people × 8 + 1,500, the figure the earlier Python pipeline took
 * 24.4–25.1 s for on this kind of machine) it generates scratch archives (tests/support/ClusterArchive)
 * in three shapes:
 *   store          the kit's own segment store (data/embeddings/)
 *   legacy, first  only the earlier pipeline's pickled embeddings.npy, no converted copy yet
 *                  (the setup removes it before each run: every run converts)
 *   legacy, later  the same archive once its converted copy exists
 * and prints the medians, the ratio of each shape to the store shape, and at 17.5k the speed-up
 * over the earlier pipeline (24.4 s / median … 25.1 s / median). A second line per size,
 * labelled in-JVM, times loading the store and matching inside this JVM (no start-up).
 *
 * Options:  --sizes 1000,17500,100000   archive sizes in faces
 *           --rounds N                   timed rounds (default 5; one warm-up round first)
 *           --shapes store,first,later   which archive shapes to time
 *           --compare-with DIR           also time another checkout of the kit (e.g. an earlier commit,
 *                                        `git worktree add DIR <commit>`) on the same archives, in the
 *                                        same rounds, and print each shape's per-round ratio to it
 * Example:  ./jbang bench/cluster.java --sizes 17500 --rounds 5
 *           ./jbang bench/cluster.java --sizes 17500 --shapes store --compare-with /tmp/kit-before
 */
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(name = "bench-cluster", mixinStandardHelpOptions = true,
        description = "Times ./jbang cluster as whole processes on generated archives of several sizes and shapes.")
public class cluster implements Callable<Integer> {
    /** The earlier Python pipeline at 17,500 faces on this kind of machine (issue 13). */
    static final double EARLIER_MIN = 24.4, EARLIER_MAX = 25.1;

    @Option(names = "--sizes", paramLabel = "LIST", split = ",", description = "archive sizes in faces (default 1000,17500,100000)")
    List<Integer> sizes = List.of(1000, 17500, 100000);
    @Option(names = "--rounds", paramLabel = "N", description = "timed rounds (default 5)")
    int rounds = 5;
    @Option(names = "--shapes", paramLabel = "LIST", split = ",", description = "store, first, later (default all)")
    List<String> shapes = List.of("store", "first", "later");
    @Option(names = "--compare-with", paramLabel = "DIR", description = "another checkout of the kit to time on the same archives")
    Path peer;

    public static void main(String... argv) {
        StepMain.exit(new cluster(), argv);
    }

    @Override
    public Integer call() throws Exception {
        Path root = SideBySide.kitRoot();
        String kit = root.resolve("jbang").toString();
        System.out.printf("Step 4 (./jbang cluster) as whole processes, %d rounds, JDK %s, %d cores%n", rounds,
                System.getProperty("java.version"), Runtime.getRuntime().availableProcessors());
        List<String[]> summary = new ArrayList<>();
        for (int total : sizes) {
            ClusterArchive.Size size = ClusterArchive.Size.ofTotal(total);
            Path scratch = Files.createTempDirectory("kit-bench-cluster");
            try {
                List<SideBySide.Command> commands = new ArrayList<>();
                SideBySide.Command store = null;
                if (shapes.contains("store")) {
                    Path data = scratch.resolve("store/data");
                    ClusterArchive.write(data, size, total, ClusterArchive.Shape.STORE);
                    store = command("store", kit, root, data, () -> {});
                    commands.add(store);
                }
                if (shapes.contains("first") || shapes.contains("later")) {
                    Path first = scratch.resolve("legacy-first/data"), later = scratch.resolve("legacy-later/data");
                    ClusterArchive.write(first, size, total, ClusterArchive.Shape.LEGACY_PICKLE);
                    if (shapes.contains("later")) {
                        SideBySide.copyTree(first.getParent(), later.getParent());
                        commands.add(command("legacy, later", kit, root, later, () -> {}));
                    }
                    if (shapes.contains("first")) {
                        // Every run starts from the legacy file alone: whatever a run derived from it goes.
                        commands.add(command("legacy, first", kit, root, first, () -> {
                            try (var files = Files.list(first)) {
                                for (Path p : files.toList()) {
                                    String n = p.getFileName().toString();
                                    if (!List.of("identities.json", "photo_index.json", "embeddings.npy").contains(n)) SideBySide.deleteTree(p);
                                }
                            }
                        }));
                    }
                }
                List<SideBySide.Command> peers = new ArrayList<>();
                if (peer != null) {
                    // The same archive, the same setup, the other kit: a run of one never sees the other's derived files
                    // (each run's setup removes what the first shape must not have; the converted copy is the same format).
                    Path peerRoot = peer.toAbsolutePath().normalize();
                    for (SideBySide.Command c : List.copyOf(commands)) {
                        List<String> argv = new ArrayList<>(c.argv());
                        argv.set(0, peerRoot.resolve("jbang").toString());
                        peers.add(new SideBySide.Command(c.label() + " @ " + peerRoot.getFileName(), argv, peerRoot).withSetup(c.setup()));
                    }
                    commands.addAll(peers);
                }
                System.out.printf("%n%,d faces (%,d people × %d + %,d new), %d rounds after 1 warm-up:%n", size.faces(), size.people(),
                        size.facesPerPerson(), size.newFaces(), rounds);
                SideBySide.Samples s = SideBySide.run(commands, 1, rounds);
                SideBySide.printTable(s, peers.isEmpty() ? store : peers.get(0));
                for (int k = 0; k < peers.size(); k++) {
                    System.out.printf("  %-16s this kit / %s: %s (per-round wall ratios, median (min-max))%n", commands.get(k).label(),
                            peer.getFileName(), SideBySide.pair(s, commands.get(k), peers.get(k)));
                }
                for (SideBySide.Command c : commands) {
                    double m = s.medianWall(c);
                    String vsEarlier = total == 17500 ? String.format("%.1f×–%.1f× the earlier pipeline's %.1f–%.1f s",
                            EARLIER_MIN / m, EARLIER_MAX / m, EARLIER_MIN, EARLIER_MAX) : "";
                    summary.add(new String[] {String.format("%,d", size.faces()), c.label(), String.format("%.3f", m), vsEarlier});
                }
                if (store != null) inJvm(scratch.resolve("store/data"));
            } finally {
                SideBySide.deleteTree(scratch);
            }
        }
        System.out.printf("%nSummary (whole processes, median wall seconds):%n");
        for (String[] row : summary) System.out.printf("  %9s faces  %-14s %8s s  %s%n", (Object[]) row);
        return StepMain.OK;
    }

    static SideBySide.Command command(String label, String kit, Path root, Path data, SideBySide.Setup setup) {
        Path parent = data.getParent();
        return new SideBySide.Command(label, List.of(kit, "cluster", "--data-dir", data.toString(),
                "--photos-dir", parent.resolve("photos").toString(), "--crops-dir", parent.resolve("crops").toString()), root)
                .withSetup(() -> {
                    SideBySide.deleteTree(data.resolve("review"));
                    setup.run();
                });
    }

    /** The second line: loading the store and matching in this (warm after the first) JVM, no start-up. */
    static void inJvm(Path data) throws Exception {
        var identities = JsonFiles.readObject(data.resolve("identities.json"));
        var index = JsonFiles.readObject(data.resolve("photo_index.json"));
        double[] load = new double[3], match = new double[3];
        int proposals = 0;
        for (int i = 0; i < 3; i++) {
            long t0 = System.nanoTime();
            EmbeddingStore store = EmbeddingStore.open(data);
            long t1 = System.nanoTime();
            proposals = Matcher.findMatches(identities, index, store, MatchThresholds.archiveDefaults(), 1.05, DistanceTerms.loadInBackground()).proposals().size();
            long t2 = System.nanoTime();
            load[i] = (t1 - t0) / 1e9;
            match[i] = (t2 - t1) / 1e9;
        }
        System.out.printf("in-JVM (store shape, median of 3 in one JVM): load store %.3f s, match %.3f s, %d proposals%n",
                SideBySide.median(load), SideBySide.median(match), proposals);
    }
}
