///usr/bin/env jbang "$0" "$@" ; exit $?
//JAVA 17+
//DEPS info.picocli:picocli:4.7.7
//JAVA_OPTIONS -Xmx2g
//SOURCES ../lib/KitException.java ../lib/AtomicFiles.java ../lib/JsonFiles.java ../lib/KitConfig.java
//SOURCES ../lib/Layout.java ../lib/Console.java ../lib/ProgressBar.java ../lib/StepMain.java ../lib/ModelCatalog.java
//SOURCES ../lib/Photos.java ../lib/FaceModels.java ../lib/FaceDetector.java ../lib/FaceAligner.java ../lib/FaceEmbedder.java ../lib/FaceQuality.java
//SOURCES ../tests/support/FaceMosaic.java ../tests/support/EvalDetection.java

/*
 * Benchmark of small-face detection (not a test): recall on mosaics of the eval faces at
 * 20-90 px (made here from ../shared/eval, never stored), false faces on eval/detection, and
 * steady-state photos/s on eval/group-photos (decode, detect, align, embed; both cores), for
 * the detector's default or a given --min-face. One process = one setting: run it alternately
 * with the setting to compare (the machine is shared) and take medians.
 *
 * Options:  --min-face PX   smallest face looked for (default: the detector's default)
 *           --rounds N      timed passes over the group photos (default 10)
 *           --faces N       faces on the mosaics (default 193)
 *           --models-dir DIR, --eval DIR, --json
 * Example:  ./jbang bench/small_faces.java --min-face 32
 */
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.stream.Stream;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(name = "small_faces", mixinStandardHelpOptions = true,
        description = "Small-face recall on eval mosaics, false faces on eval/detection, photos/s on eval/group-photos.")
public class small_faces implements Callable<Integer> {
    @Option(names = "--min-face", paramLabel = "PX", description = "smallest face looked for (default: the detector's default)")
    Double minFace;
    @Option(names = "--rounds", paramLabel = "N", defaultValue = "10", description = "timed passes over the group photos (default 10)")
    int rounds;
    @Option(names = "--faces", paramLabel = "N", defaultValue = "193", description = "faces on the mosaics (default 193)")
    int faces;
    @Option(names = "--models-dir", paramLabel = "DIR") Path modelsDir;
    @Option(names = "--eval", paramLabel = "DIR") Path evalDir;
    @Option(names = "--json", description = "one JSON object on stdout") boolean json;

    public static void main(String... argv) {
        StepMain.exit(new small_faces(), argv);
    }

    @Override
    public Integer call() throws Exception {
        KitConfig cfg = KitConfig.load();
        Console console = Console.standard(json);
        Path eval = evalDir != null ? evalDir : cfg.root().resolve("../shared/eval").normalize();
        if (!Files.isDirectory(eval)) throw new KitException("the evaluation photos are not at " + eval, "give --eval DIR (the shared eval folder)");
        ObjectNode out = JsonFiles.object();
        long t0 = System.nanoTime();
        try (FaceModels m = FaceModels.open((modelsDir != null ? modelsDir.toAbsolutePath().normalize() : Layout.standard(cfg.root()).models()), 1)) {
            double load = (System.nanoTime() - t0) / 1e9;
            double setting = minFace != null ? minFace : FaceDetector.DEFAULT_MIN_FACE;
            out.put("min_face", setting);
            out.put("models_load_s", round(load, 3));

            // The mosaics' source boxes come from a native-pixel pass, whatever the setting measured.
            m.detector.minFace(FaceDetector.DETECTABLE_PX);
            List<FaceMosaic.Mosaic> mosaics = FaceMosaic.make(eval, m.detector, faces, 20, 90);
            m.detector.minFace(setting);

            int found = 0, total = 0, extra = 0;
            List<Integer> missed = new ArrayList<>();
            long tm = System.nanoTime();
            for (FaceMosaic.Mosaic mo : mosaics) {
                FaceMosaic.Recall r = FaceMosaic.recall(mo, m.detector.detect(mo.image()));
                found += r.found();
                total += r.total();
                extra += r.extra();
                missed.addAll(r.missedSizes());
            }
            double mosaicS = (System.nanoTime() - tm) / 1e9;
            missed.sort(null);
            console.info(String.format("min face %.0f px: mosaics %d of %d faces of 20-90 px found (missed sizes %s), %d unlabelled boxes, %.2f s for %d mosaics of %dx%d",
                    setting, found, total, missed, extra, mosaicS, mosaics.size(), FaceMosaic.CANVAS_W, FaceMosaic.CANVAS_H));
            ObjectNode mo = out.putObject("mosaics");
            mo.put("found", found);
            mo.put("total", total);
            mo.put("unlabelled_boxes", extra);
            mo.put("seconds", round(mosaicS, 3));
            missed.forEach(mo.putArray("missed_sizes")::add);

            // --- false faces and recall on eval/detection
            EvalDetection.Score score = EvalDetection.score(eval, m.detector);
            int required = score.required(), matched = score.matched(), fps = score.falseFaces();
            console.info(String.format("detection: %d/%d labelled faces, %d false faces", matched, required, fps));
            ObjectNode det = out.putObject("detection");
            det.put("matched", matched);
            det.put("required", required);
            det.put("false_positives", fps);

            // --- steady state on the group photos: one photo per core, tiles in parallel inside
            List<byte[]> group = new ArrayList<>();
            try (Stream<Path> s = Files.list(eval.resolve("group-photos"))) {
                for (Path p : s.filter(p -> p.toString().endsWith(".jpg")).sorted().toList()) group.add(Files.readAllBytes(p));
            }
            ExecutorService pool = Executors.newFixedThreadPool(FaceModels.cores(), FaceModels.workerThreads("bench"));
            int facesFound = 0;
            for (byte[] b : group) facesFound += process(m, b);   // warm-up (JIT, ONNX Runtime)
            long ts = System.nanoTime(), cpu0 = cpuNanos();
            int photos = 0;
            for (int r = 0; r < rounds; r++) {
                List<Future<Integer>> fs = new ArrayList<>();
                for (byte[] b : group) fs.add(pool.submit(() -> process(m, b)));
                for (Future<Integer> f : fs) f.get();
                photos += group.size();
            }
            double secs = (System.nanoTime() - ts) / 1e9, cpuMs = (cpuNanos() - cpu0) / 1e6 / photos;
            pool.shutdown();
            // CPU time per photo as well: on a shared machine it moves far less than the wall clock.
            console.info(String.format("group photos: %d faces in %d photos; steady state %.2f photos/s, %.0f ms CPU per photo (%d rounds)",
                    facesFound, group.size(), photos / secs, cpuMs, rounds));
            ObjectNode sp = out.putObject("speed");
            sp.put("faces", facesFound);
            sp.put("photos_per_s", round(photos / secs, 3));
            sp.put("cpu_ms_per_photo", round(cpuMs, 1));
            sp.put("total_s", round((System.nanoTime() - t0) / 1e9, 2));
        }
        console.emitJson(out);
        return StepMain.OK;
    }

    static long cpuNanos() {
        return ((com.sun.management.OperatingSystemMXBean) java.lang.management.ManagementFactory.getOperatingSystemMXBean()).getProcessCpuTime();
    }

    static int process(FaceModels m, byte[] jpeg) {
        Photos.Image img = Photos.decode(jpeg, "group.jpg").image();
        List<FaceDetector.Face> faces = m.detector.detect(img);
        for (FaceDetector.Face f : faces) m.embedder.embed(m.aligner.align(img, m.aligner.fivePoints(img, f)));
        return faces.size();
    }

    static double round(double v, int places) {
        double f = Math.pow(10, places);
        return Math.round(v * f) / f;
    }
}
