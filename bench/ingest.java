///usr/bin/env jbang "$0" "$@" ; exit $?
//JAVA 17+
//DEPS info.picocli:picocli:4.7.7
//JAVA_OPTIONS -Xmx2g
//SOURCES ../lib/KitException.java ../lib/AtomicFiles.java ../lib/JsonFiles.java ../lib/KitConfig.java
//SOURCES ../tests/support/EvalDetection.java support/SideBySide.java
//SOURCES ../lib/Layout.java ../lib/Console.java ../lib/ProgressBar.java ../lib/StepMain.java ../lib/ModelCatalog.java ../lib/Timestamps.java
//SOURCES ../lib/Photos.java ../lib/FaceModels.java ../lib/OnnxRuntimeLibraries.java ../lib/FaceDetector.java ../lib/FaceAligner.java ../lib/FaceEmbedder.java ../lib/FaceDistances.java ../lib/FaceQuality.java ../lib/OnnxGraph.java ../lib/PReluAsConvolutions.java

/*
 * Benchmark of the ingest (not a test). By default WHOLE PROCESSES, as a user runs them, side
 * by side (bench/support/SideBySide: rotating order, medians, per-round ratios):
 *   ./jbang ingest --directory <the 5 photos of eval/group-photos> --job-id bench   into a fresh
 *       scratch archive each run (the copy is made before the clock starts);
 *   the same with another kit's launcher (--before DIR: e.g. a worktree of main), beside it;
 *   the OpenCV peer (bench/peer/opencv_ingest.py: the same three models through cv2.dnn, the
 *       scheme of spec/face-models.md, 2 threads, crops written) when python3 has cv2
 *       (Debian's python3-opencv), with its start-up alone (python3 importing cv2 and numpy) beside
 *       it, and the peer's figures from spec/face-models.md, labelled.
 * With --in-jvm, the figures inside one warm JVM instead (labelled in-JVM):
 *   1. model load time;
 *   2. speed: photos/s and ms per face, end to end (decode, detect, align, embed), on
 *      eval/group-photos, after one warm-up pass, both cores busy;
 *   3. detection on eval/detection: recall and false positives (IoU >= 0.3, eval/README.md);
 *   4. same-person vs other-person distances on every chip of eval/identities: the largest
 *      threshold with 100% precision and the recall there, plus precision/recall at the
 *      model's thresholds in models.json.
 *
 * Options:  --rounds N         timed rounds (default 5)
 *           --before DIR       also time the kit in DIR (its own ./jbang), e.g. git worktree add DIR main
 *           --no-peer          do not run the OpenCV peer
 *           --flush-ms MS      every fsync of the timed commands takes MS ms more, as on a slower disk
 *                              (bench/support/slow_flush.c, built with gcc, loaded with LD_PRELOAD)
 *           --in-jvm           the in-JVM figures (1-4 above) instead
 *           --models-dir DIR   (default: models)   --eval DIR   (default: ../shared/eval)   --json (with --in-jvm)
 * Example:  ./jbang bench/ingest.java --rounds 5 --before /tmp/kit-main
 */
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.Callable;
import java.util.stream.Stream;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(name = "ingest", mixinStandardHelpOptions = true,
        description = "Speed and quality of the face pipeline on ../shared/eval (see the header of bench/ingest.java).")
public class ingest implements Callable<Integer> {
    @Option(names = "--models-dir", paramLabel = "DIR", description = "the models (default: models)") Path modelsDir;
    @Option(names = "--eval", paramLabel = "DIR", description = "the evaluation photos (default: ../shared/eval)") Path evalDir;
    @Option(names = "--rounds", paramLabel = "N", defaultValue = "5", description = "timed rounds (default 5)") int rounds;
    @Option(names = "--json", description = "print one JSON object on stdout (with --in-jvm)") boolean json;
    @Option(names = "--in-jvm", description = "figures inside one warm JVM instead of whole processes") boolean inJvm;
    @Option(names = "--before", paramLabel = "DIR", description = "another kit (e.g. a worktree of main) to time beside this one") Path before;
    @Option(names = "--no-peer", description = "do not run the OpenCV peer") boolean noPeer;
    @Option(names = "--flush-ms", paramLabel = "MS", description = "make every fsync of the timed commands take MS ms more (a slower disk; needs gcc)")
    double flushMs;

    /** The OpenCV peer's figures as spec/face-models.md gives them (measured there, not here). */
    static final String PEER_SPEC = "spec/face-models.md, OpenCV peer on eval/group-photos: whole process ~1.0 s; steady state 8.8 photos/s, 24.8 ms per face";

    public static void main(String... argv) {
        StepMain.exit(new ingest(), argv);
    }

    @Override
    public Integer call() throws Exception {
        KitConfig cfg = KitConfig.load();
        Console console = Console.standard(json);
        Path eval = evalDir != null ? evalDir : cfg.root().resolve("../shared/eval").normalize();
        if (!Files.isDirectory(eval)) {
            throw new KitException("the evaluation photos are not at " + eval, "give --eval DIR (the shared eval folder)");
        }
        Path models = modelsDir != null ? modelsDir.toAbsolutePath().normalize() : Layout.standard(cfg.root()).models();
        if (!inJvm) return wholeProcesses(SideBySide.kitRoot(), models, eval.resolve("group-photos"));
        ObjectNode out = run(models, eval, rounds, console);
        console.emitJson(out);
        return StepMain.OK;
    }

    /** The ingest of the group photos as whole processes: this kit, --before's kit, the OpenCV peer. */
    int wholeProcesses(Path root, Path models, Path photos) throws Exception {
        Path scratch = Files.createTempDirectory("kit-ingest-bench");
        try {
            List<SideBySide.Command> commands = new ArrayList<>();
            Map<String, String> disk = flushMs > 0 ? slowDisk(root, scratch, flushMs) : Map.of();
            SideBySide.Command after = kitIngest("kit (this)", root, scratch.resolve("after"), photos).withEnv(disk);
            commands.add(after);
            SideBySide.Command old = null;
            if (before != null) {
                Path b = before.toAbsolutePath().normalize();
                if (!Files.isExecutable(b.resolve("jbang"))) throw new KitException("no kit at " + b + " (no ./jbang)", "give --before the folder of another kit checkout");
                old = kitIngest("kit (--before)", b, scratch.resolve("before"), photos).withEnv(disk);
                commands.add(old);
            }
            SideBySide.Command peer = null;
            Path python = Path.of("/usr/bin/python3");
            Path script = root.resolve("bench/peer/opencv_ingest.py");
            if (!noPeer && Files.isExecutable(python) && Files.isRegularFile(script) && hasCv2(python)) {
                Path out = scratch.resolve("peer");
                peer = new SideBySide.Command("OpenCV peer (cv2.dnn, python3)", List.of(python.toString(), script.toString(), "--models", models.toString(),
                        "--out", out.toString(), photos.toString()), root).withEnv(disk).withSetup(() -> {
                            SideBySide.deleteTree(out);
                            Files.createDirectories(out);
                        });
                commands.add(peer);
                // The peer's start-up alone (Python, NumPy, OpenCV), timed beside it: what the spec's whole-process
                // figure leaves for the work, on this machine today.
                commands.add(new SideBySide.Command("peer start-up only (import cv2, numpy)",
                        List.of(python.toString(), "-c", "import cv2, numpy"), root));
            }
            System.out.printf("Ingest of %s (%d photos), whole processes, %d rounds, %d cores%n", photos, list(photos).size(), rounds,
                    Runtime.getRuntime().availableProcessors());
            if (flushMs > 0) System.out.printf("every fsync %s ms slower than this disk's (--flush-ms)%n", flushMs);
            System.out.println("(3 warm-up rounds first: builds, and the class-data archive the first real runs record and build)");
            SideBySide.run(commands, 3, 0);
            awaitArchiveBuilds(root, before);
            SideBySide.run(commands, 1, 0);
            SideBySide.Samples s = SideBySide.run(commands, 0, rounds);
            System.out.println();
            SideBySide.printTable(s, peer);
            if (old != null) System.out.printf("%nthis kit / --before, per round: %s%n", SideBySide.pair(s, after, old));
            if (peer == null && !noPeer) System.out.println("\n(the OpenCV peer was not run here: /usr/bin/python3 with cv2 needed, e.g. apt-get install python3-opencv)");
            System.out.println("peer's figures from " + PEER_SPEC);
            return StepMain.OK;
        } finally {
            SideBySide.deleteTree(scratch);
        }
    }

    /**
     * Waits (at most 5 minutes) while a class-data archive is still being built in the background
     * (./jbang builds it after the first real run): timed rounds should all map it.
     */
    static void awaitArchiveBuilds(Path... kits) throws Exception {
        long deadline = System.nanoTime() + 300_000_000_000L;
        for (Path kit : kits) {
            if (kit == null) continue;
            Path dir = kit.toAbsolutePath().resolve(".kit/launch");
            while (System.nanoTime() < deadline && Files.isDirectory(dir)) {
                boolean building;
                try (Stream<Path> s = Files.list(dir)) {
                    building = s.map(p -> p.getFileName().toString()).filter(n -> n.matches(".*\\.(jsa|aot)\\.tmp\\.\\d+"))
                            .anyMatch(n -> running(n.substring(n.lastIndexOf('.') + 1)));
                }
                if (!building) break;
                System.err.println("waiting for a class-data archive being built in " + dir + " ...");
                Thread.sleep(2000);
            }
        }
        // one more untimed run per command then puts a finished archive in place (see ./jbang)
    }

    /**
     * Whether process {@code pid} is still running. A finished build whose parent never reaped
     * it stays a zombie in /proc: this bench's own archive build is a child of this JVM (./jbang
     * exec'd it), so without this the bench waited for itself for the whole five minutes.
     */
    static boolean running(String pid) {
        try {
            String stat = Files.readString(Path.of("/proc", pid, "stat"));
            return stat.charAt(stat.lastIndexOf(')') + 2) != 'Z';
        } catch (Exception e) {
            return false;
        }
    }

    /** The environment that makes every fsync of a command {@code ms} ms slower: bench/support/slow_flush.c built into {@code scratch}. */
    static Map<String, String> slowDisk(Path root, Path scratch, double ms) throws Exception {
        Path lib = scratch.resolve("slow_flush.so");
        Process gcc;
        try {
            gcc = new ProcessBuilder("gcc", "-O2", "-shared", "-fPIC", "-o", lib.toString(), root.resolve("bench/support/slow_flush.c").toString(), "-ldl")
                    .redirectErrorStream(true).start();
        } catch (java.io.IOException e) {
            throw new KitException("--flush-ms needs a C compiler (gcc) to build bench/support/slow_flush.c", "apt-get install gcc, or leave out --flush-ms");
        }
        String out = new String(gcc.getInputStream().readAllBytes());
        if (gcc.waitFor() != 0) throw new KitException("gcc could not build bench/support/slow_flush.c: " + out.strip(), "check the compiler, or leave out --flush-ms");
        return Map.of("LD_PRELOAD", lib.toString(), "SLOW_FLUSH_US", String.valueOf(Math.round(ms * 1000)));
    }

    /** ./jbang ingest of the photos into a fresh scratch archive under {@code work}, made before each run. */
    static SideBySide.Command kitIngest(String label, Path kit, Path work, Path photos) {
        Path pending = work.resolve("pending/bench");
        List<String> argv = List.of(kit.resolve("jbang").toString(), "ingest", "--directory", pending.toString(), "--job-id", "bench",
                "--data-dir", work.resolve("data").toString(), "--photos-dir", work.resolve("raw_photos").toString(),
                "--crops-dir", work.resolve("raw_photos/crops").toString());
        return new SideBySide.Command(label, argv, kit).withSetup(() -> {
            SideBySide.deleteTree(work);
            Files.createDirectories(pending);
            for (Path p : list(photos)) Files.copy(p, pending.resolve(p.getFileName().toString()));
        });
    }

    static boolean hasCv2(Path python) {
        try {
            Process p = new ProcessBuilder(python.toString(), "-c", "import cv2, numpy").redirectErrorStream(true)
                    .redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
            return p.waitFor() == 0;
        } catch (Exception e) {
            return false;
        }
    }

    /** One face found and embedded, with its timing share. */
    record Done(int faces, List<FaceEmbedder.Embedding> embeddings) {}

    static Done process(FaceModels m, Path file) {
        return process(m, Photos.decode(file).image());
    }

    static Done process(FaceModels m, byte[] jpeg) {
        return process(m, Photos.decode(jpeg, "in-memory.jpg").image());
    }

    static Done process(FaceModels m, Photos.Image img) {
        List<FaceDetector.Face> faces = m.detector.detect(img);
        List<FaceEmbedder.Embedding> es = new ArrayList<>();
        for (FaceDetector.Face f : faces) es.add(m.embedder.embed(m.aligner.align(img, m.aligner.fivePoints(img, f))));
        return new Done(faces.size(), es);
    }

    static ObjectNode run(Path modelsDir, Path eval, int rounds, Console console) throws Exception {
        ObjectNode out = JsonFiles.object();
        long t0 = System.nanoTime();
        try (FaceModels m = FaceModels.open(modelsDir, 1)) {
            double load = (System.nanoTime() - t0) / 1e9;
            out.put("embedding_model", m.embeddingModel);
            out.put("detector", m.detector.family());
            out.put("cores", FaceModels.cores());
            out.put("models_load_s", round(load, 3));
            console.header("Face pipeline benchmark: " + m.embeddingModel + " (" + m.detector.family() + " detector), " + FaceModels.cores() + " cores");
            console.info(String.format("models loaded in %.3f s", load));

            // --- speed on the group photos: photos in parallel (one per core), tiles in parallel inside
            List<Path> group = list(eval.resolve("group-photos"));
            ExecutorService pool = Executors.newFixedThreadPool(FaceModels.cores(), FaceModels.workerThreads("bench"));
            int faces = 0;
            long tFirst = System.nanoTime();
            for (Path p : group) faces += process(m, p).faces();   // first pass: cold (JIT, ONNX warm-up)
            double cold = (System.nanoTime() - tFirst) / 1e9;
            long ts = System.nanoTime();
            int photos = 0, facesTimed = 0;
            for (int r = 0; r < rounds; r++) {
                List<Future<Done>> fs = new ArrayList<>();
                for (Path p : group) fs.add(pool.submit(() -> process(m, p)));
                for (Future<Done> f : fs) facesTimed += f.get().faces();
                photos += group.size();
            }
            double secs = (System.nanoTime() - ts) / 1e9;
            pool.shutdown();
            double pps = photos / secs, msPerFace = secs * 1000 / Math.max(1, facesTimed);
            console.info(String.format("group photos: %d photos, %d faces; first pass (cold) %.2f s; steady state %.1f photos/s, %.1f ms per face (wall, %d rounds)",
                    group.size(), faces, cold, pps, msPerFace, rounds));
            ObjectNode speed = out.putObject("speed");
            speed.put("photos", group.size());
            speed.put("faces", faces);
            speed.put("cold_first_pass_s", round(cold, 3));
            speed.put("photos_per_s", round(pps, 2));
            speed.put("ms_per_face", round(msPerFace, 1));

            // --- the same photos scaled to 1920 px wide (a typical scan or phone photo), JPEG in memory
            List<byte[]> big = new ArrayList<>();
            for (Path p : group) {
                Photos.Image img = Photos.decode(p).image();
                int h = (int) Math.round(img.height * 1920.0 / img.width);
                big.add(Photos.encodeJpeg(Photos.resize(img, 1920, h), 0.9f));
            }
            ExecutorService pool2 = Executors.newFixedThreadPool(FaceModels.cores(), FaceModels.workerThreads("bench"));
            for (byte[] b : big) process(m, b);   // warm-up at this size
            long tb = System.nanoTime();
            int bigPhotos = 0, bigFaces = 0;
            for (int r = 0; r < rounds; r++) {
                List<Future<Done>> fs = new ArrayList<>();
                for (byte[] b : big) fs.add(pool2.submit(() -> process(m, b)));
                for (Future<Done> f : fs) bigFaces += f.get().faces();
                bigPhotos += big.size();
            }
            double bigSecs = (System.nanoTime() - tb) / 1e9;
            pool2.shutdown();
            console.info(String.format("1920-px group photos: %.1f photos/s, %.1f ms per face (%d faces per pass; decode included)",
                    bigPhotos / bigSecs, bigSecs * 1000 / Math.max(1, bigFaces), bigFaces / rounds));
            speed.put("photos_per_s_1920px", round(bigPhotos / bigSecs, 2));
            speed.put("ms_per_face_1920px", round(bigSecs * 1000 / Math.max(1, bigFaces), 1));
            speed.put("faces_1920px", bigFaces / rounds);

            // --- detection recall and false positives
            EvalDetection.Score score = EvalDetection.score(eval, m.detector);
            int required = score.required(), matched = score.matched(), fps = score.falseFaces(), nPhotos = score.photos();
            console.info(String.format("detection: recall %d/%d = %.1f%%, false positives %d in %d photos", matched, required,
                    100.0 * matched / required, fps, nPhotos));
            ObjectNode det = out.putObject("detection");
            det.put("required", required);
            det.put("matched", matched);
            det.put("recall", round((double) matched / required, 4));
            det.put("false_positives", fps);
            det.put("photos", nPhotos);

            // --- same vs other person
            List<String> who = new ArrayList<>();
            List<float[]> mus = new ArrayList<>();
            int noFace = 0;
            for (Path set : list(eval.resolve("identities"))) {
                for (Path person : list(set)) {
                    for (Path chip : list(person)) {
                        Photos.Image img = Photos.decode(chip).image();
                        List<FaceDetector.Face> f = m.detector.detect(img);
                        FaceDetector.Face face;
                        if (f.isEmpty()) {
                            // A tight chip may hold too little around the face for the detector: use the whole chip.
                            noFace++;
                            face = new FaceDetector.Face(new float[] {0, 0, img.width, img.height}, 0, null);
                        } else {
                            face = f.stream().max(Comparator.comparingDouble(x -> x.width() * x.height())).get();
                        }
                        mus.add(m.embedder.embed(m.aligner.align(img, m.aligner.fivePoints(img, face))).mu());
                        who.add(set.getFileName() + "/" + person.getFileName());
                    }
                }
            }
            List<Double> same = new ArrayList<>(), other = new ArrayList<>();
            for (int i = 0; i < mus.size(); i++) {
                for (int j = i + 1; j < mus.size(); j++) {
                    double d = FaceDistances.distance(mus.get(i), mus.get(j));
                    (who.get(i).equals(who.get(j)) ? same : other).add(d);
                }
            }
            double minOther = other.stream().mapToDouble(Double::doubleValue).min().orElse(2);
            double recallAt = same.stream().filter(d -> d < minOther).count() / (double) same.size();
            console.info(String.format("identities: %d chips (%d without a detected face), %d same-person and %d other-person pairs",
                    mus.size(), noFace, same.size(), other.size()));
            console.info(String.format("  largest threshold with 100%% precision: %.3f, recall there %.1f%%", minOther, 100 * recallAt));
            ObjectNode ids = out.putObject("identities");
            ids.put("chips", mus.size());
            ids.put("chips_without_detection", noFace);
            ids.put("same_pairs", same.size());
            ids.put("other_pairs", other.size());
            ids.put("threshold_100pct_precision", round(minOther, 4));
            ids.put("recall_at_that_threshold", round(recallAt, 4));
            ObjectNode table = ids.putObject("at_thresholds");
            for (int step = 80; step <= 130; step++) {
                double t = step / 100.0;
                long tp = same.stream().filter(d -> d < t).count(), fp = other.stream().filter(d -> d < t).count();
                double prec = tp + fp == 0 ? 1 : (double) tp / (tp + fp), rec = (double) tp / same.size();
                if (step % 5 == 0 || (step > 110 && step < 130)) {
                    console.info(String.format("  d < %.2f: precision %.1f%%, recall %.1f%%", t, 100 * prec, 100 * rec));
                }
                ObjectNode row = table.putObject(String.format("%.2f", t));
                row.put("precision", round(prec, 4));
                row.put("recall", round(rec, 4));
            }
        }
        return out;
    }

    static List<Path> list(Path dir) throws Exception {
        try (Stream<Path> s = Files.list(dir)) {
            return s.filter(p -> !p.getFileName().toString().startsWith(".") && !p.getFileName().toString().endsWith(".json")
                    && !p.getFileName().toString().endsWith(".md")).sorted().toList();
        }
    }

    static double round(double v, int places) {
        double f = Math.pow(10, places);
        return Math.round(v * f) / f;
    }
}
