///usr/bin/env jbang "$0" "$@" ; exit $?
//JAVA 17+
//DEPS info.picocli:picocli:4.7.7
//JAVA_OPTIONS -Xmx3g
//SOURCES ../lib/KitException.java ../lib/AtomicFiles.java ../lib/JsonFiles.java ../lib/KitConfig.java
//SOURCES ../lib/StepMain.java ../lib/DataLock.java
//SOURCES ../lib/NpyPickleReader.java ../lib/EmbeddingStore.java ../lib/NpyFloatMatrix.java ../lib/LegacyEmbeddings.java ../lib/MatchThresholds.java ../lib/Matcher.java ../lib/FaceQuality.java
//SOURCES ../lib/Identities.java ../lib/FaceDistances.java

/*
 * Benchmark of step 4's matching at archive scale. For each size (default 1k, 10k and 100k
 * archive faces) it builds a synthetic archive in a temporary folder — confirmed people of
 * 5 faces each plus --new new faces, each in its own INBOX identity, half of them near a
 * known person — writes it as a real embedding store, then times loading the store and
 * matching, and prints the time and the new faces matched per second.
 *
 * Options:  --sizes 1000,10000,100000   archive sizes (faces of confirmed people)
 *           --new N                      new faces to match (default 1000)
 *           --dims D                     vector length (default 512)
 * Example:  ./jbang bench/cluster.java --sizes 100000
 */
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Random;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(name = "bench-cluster", mixinStandardHelpOptions = true, description = "Times step 4's matching on synthetic archives of several sizes.")
public class cluster implements Callable<Integer> {
    @Option(names = "--sizes", paramLabel = "LIST", split = ",", description = "archive sizes in faces (default 1000,10000,100000)")
    List<Integer> sizes = List.of(1000, 10000, 100000);
    @Option(names = "--new", paramLabel = "N", description = "new faces to match (default 1000)")
    int newCount = 1000;
    @Option(names = "--dims", paramLabel = "D", description = "vector length (default 512)")
    int dimensions = 512;

    public static void main(String... argv) {
        StepMain.exit(new cluster(), argv);
    }

    @Override
    public Integer call() throws Exception {
        {
            int newFaces = newCount, dims = dimensions;
            System.out.printf("Step 4 matching benchmark: %d new faces, %d dims, %d cores%n", newFaces, dims,
                    Runtime.getRuntime().availableProcessors());
            System.out.printf("%12s %12s %12s %12s %12s %14s %11s%n", "archive", "people", "load store", "match", "match cpu",
                    "new faces/s", "proposals");
            for (int size : sizes) bench(size, newFaces, dims);
            return StepMain.OK;
        }
    }

    static void bench(int archiveFaces, int newFaces, int dims) throws Exception {
        Path dir = Files.createTempDirectory("kit-bench-cluster");
        try {
            Random r = new Random(archiveFaces);
            int people = Math.max(1, archiveFaces / 5);
            float[][] centres = new float[people][];
            for (int p = 0; p < people; p++) centres[p] = unit(r, dims);

            ObjectNode doc = JsonFiles.object();
            doc.put("schema_version", 1);
            ObjectNode ids = doc.putObject("identities");
            List<EmbeddingStore.Face> faces = new ArrayList<>(archiveFaces + newFaces);
            ObjectNode index = JsonFiles.object();
            ObjectNode f2p = index.putObject("face_to_photo");
            for (int p = 0; p < people; p++) {
                ObjectNode ident = identity(ids, "person-" + p, "Person " + p, "CONFIRMED");
                ArrayNode anchors = ident.putArray("anchor_ids"), candidates = ident.putArray("candidate_ids");
                int n = p == people - 1 ? archiveFaces - 5 * (people - 1) : 5;
                for (int k = 0; k < n; k++) {
                    String fid = "p" + p + ":face" + k;
                    (k == 0 ? anchors : candidates).add(fid);
                    faces.add(face(fid, near(centres[p], 0.45, r)));
                    f2p.put(fid, "photo-" + p + "-" + k);
                }
            }
            for (int j = 0; j < newFaces; j++) {
                String fid = "inbox_" + String.format("%012x", j);
                ObjectNode ident = identity(ids, "new-" + j, "Unidentified Person " + j, "INBOX");
                ident.putArray("anchor_ids").add(fid);
                ident.putArray("candidate_ids");
                float[] v = j % 2 == 0 ? near(centres[r.nextInt(people)], 0.45, r) : unit(r, dims);
                faces.add(face(fid, v));
                f2p.put(fid, "photo-new-" + j);
            }
            EmbeddingStore.open(dir).append(faces);
            faces = null;

            long t0 = System.nanoTime();
            EmbeddingStore store = EmbeddingStore.open(dir);
            long t1 = System.nanoTime(), cpu1 = cpuNanos();
            Matcher.Result result = Matcher.findMatches(doc, index, store, MatchThresholds.archiveDefaults(), 1.05);
            long t2 = System.nanoTime(), cpu2 = cpuNanos();
            double match = (t2 - t1) / 1e9;
            // CPU time next to wall time: on a shared machine the wall time alone says little.
            System.out.printf("%12d %12d %10.2f s %10.2f s %10.2f s %14.0f %11d%n", archiveFaces, people, (t1 - t0) / 1e9, match,
                    (cpu2 - cpu1) / 1e9, newFaces / match, result.proposals().size());
        } finally {
            try (var walk = Files.walk(dir)) {
                walk.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
    }

    /** CPU time used by this process so far (all threads). */
    static long cpuNanos() {
        var os = java.lang.management.ManagementFactory.getOperatingSystemMXBean();
        return os instanceof com.sun.management.OperatingSystemMXBean sun ? sun.getProcessCpuTime() : 0;
    }

    static ObjectNode identity(ObjectNode ids, String id, String name, String state) {
        ObjectNode n = ids.putObject(id);
        n.put("identity_id", id);
        n.put("name", name);
        n.put("state", state);
        return n;
    }

    static EmbeddingStore.Face face(String id, float[] mu) {
        return new EmbeddingStore.Face(id, id + ".jpg", "raw_photos/" + id + ".jpg", mu, 0.3f, 0.98f,
                new float[] {10, 10, 110, 130}, 2.2f, EmbeddingStore.LEGACY_MODEL);
    }

    static float[] unit(Random r, int dims) {
        float[] v = new float[dims];
        for (int i = 0; i < dims; i++) v[i] = (float) r.nextGaussian();
        return normalise(v);
    }

    /** A face of the same person: the centre plus noise of about the given length. */
    static float[] near(float[] centre, double noise, Random r) {
        float[] v = new float[centre.length];
        double scale = noise / Math.sqrt(centre.length);
        for (int i = 0; i < v.length; i++) v[i] = (float) (centre[i] + scale * r.nextGaussian());
        return normalise(v);
    }

    static float[] normalise(float[] v) {
        double s = 0;
        for (float x : v) s += x * x;
        float inv = (float) (1 / Math.sqrt(s));
        for (int i = 0; i < v.length; i++) v[i] *= inv;
        return v;
    }
}
