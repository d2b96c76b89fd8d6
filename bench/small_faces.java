///usr/bin/env jbang "$0" "$@" ; exit $?
//JAVA 17+
//DEPS info.picocli:picocli:4.7.7
//JAVA_OPTIONS -Xmx2g
//SOURCES ../lib/KitException.java ../lib/AtomicFiles.java ../lib/JsonFiles.java ../lib/KitConfig.java
//SOURCES ../lib/Layout.java ../lib/Console.java ../lib/ProgressBar.java ../lib/StepMain.java ../lib/ModelCatalog.java ../lib/Timestamps.java
//SOURCES ../lib/Photos.java ../lib/FaceModels.java ../lib/OnnxRuntimeLibraries.java ../lib/FaceDetector.java ../lib/FaceAligner.java ../lib/FaceEmbedder.java ../lib/FaceQuality.java ../lib/OnnxGraph.java ../lib/PReluAsConvolutions.java
//SOURCES ../tests/support/FaceMosaic.java ../tests/support/EvalDetection.java support/SideBySide.java

/*
 * Benchmark of small-face detection (not a test): recall on mosaics of the eval faces at
 * 20-90 px (made here from ../shared/eval, never stored), false faces on eval/detection, and
 * steady-state photos/s on eval/group-photos (decode, detect, align, embed; both cores), for
 * the detector's default or a given --min-face. One process = one setting: run it alternately
 * with the setting to compare (the machine is shared) and take medians.
 *
 * With --before-after: the old default (--min-face 32) against today's (20 px) in one run,
 * alternating: this benchmark's own figures (mosaic recall, steady-state photos/s, as one
 * process per setting) and the whole `./jbang ingest` of eval/group-photos per setting
 * (SideBySide: rotating order, medians, per-round ratios).
 *
 * Options:  --min-face PX   smallest face looked for (default: the detector's default)
 *           --before-after  compare 32 px with the default as above (--rounds: rounds of each)
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
    @Option(names = "--before-after", description = "the old default (32 px) against today's, as whole processes") boolean beforeAfter;

    static final double OLD_DEFAULT = 32;

    public static void main(String... argv) {
        StepMain.exit(new small_faces(), argv);
    }

    @Override
    public Integer call() throws Exception {
        KitConfig cfg = KitConfig.load();
        Console console = Console.standard(json);
        Path eval = evalDir != null ? evalDir : cfg.root().resolve("../shared/eval").normalize();
        if (!Files.isDirectory(eval)) throw new KitException("the evaluation photos are not at " + eval, "give --eval DIR (the shared eval folder)");
        if (beforeAfter) return beforeAfter(eval);
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

    /** 32 px against the default: this benchmark once per setting per round, then the whole ingest per setting. */
    int beforeAfter(Path eval) throws Exception {
        Path root = SideBySide.kitRoot();
        String launcher = root.resolve("jbang").toString();
        int n = Math.max(1, rounds);
        System.out.printf("Small faces, min face %.0f px (the old default) against %.0f px (today's), %d rounds each, alternating%n",
                OLD_DEFAULT, FaceDetector.DEFAULT_MIN_FACE, n);
        List<JsonNode> old = new ArrayList<>(), now = new ArrayList<>();
        for (int r = 0; r < n; r++) {
            System.err.printf("benchmark round %d/%d ...%n", r + 1, n);
            for (int k = 0; k < 2; k++) {
                boolean first = (k + r) % 2 == 0;
                List<String> argv = new ArrayList<>(List.of(launcher, "bench/small_faces.java", "--json", "--rounds", "10", "--faces", String.valueOf(faces),
                        "--eval", eval.toString()));
                if (first) argv.addAll(List.of("--min-face", String.valueOf((int) OLD_DEFAULT)));
                Process p = new ProcessBuilder(argv).directory(root.toFile()).redirectError(ProcessBuilder.Redirect.DISCARD).start();
                String text = new String(p.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
                if (p.waitFor() != 0) throw new IllegalStateException("small_faces failed: " + text);
                (first ? old : now).add(JsonFiles.parse(text, "small_faces output"));
            }
        }
        for (int k = 0; k < 2; k++) {
            List<JsonNode> runs = k == 0 ? old : now;
            JsonNode any = runs.get(0);
            double[] pps = runs.stream().mapToDouble(j -> j.path("speed").path("photos_per_s").asDouble()).toArray();
            double[] cpu = runs.stream().mapToDouble(j -> j.path("speed").path("cpu_ms_per_photo").asDouble()).toArray();
            System.out.printf("  min face %2.0f px: mosaics %d/%d found, eval/detection %d/%d and %d false faces; steady state %.2f photos/s, %.0f ms CPU per photo (in-JVM, medians of %d processes)%n",
                    any.path("min_face").asDouble(), any.path("mosaics").path("found").asInt(), any.path("mosaics").path("total").asInt(),
                    any.path("detection").path("matched").asInt(), any.path("detection").path("required").asInt(),
                    any.path("detection").path("false_positives").asInt(), SideBySide.median(pps), SideBySide.median(cpu), runs.size());
        }
        double[] ratio = new double[n];
        for (int r = 0; r < n; r++) ratio[r] = now.get(r).path("speed").path("cpu_ms_per_photo").asDouble() / old.get(r).path("speed").path("cpu_ms_per_photo").asDouble();
        System.out.printf("  CPU per photo, today's / old default, per round: %.2f× (median)%n", SideBySide.median(ratio));

        // The whole ingest of the group photos per setting.
        Path scratch = Files.createTempDirectory("kit-small-faces-bench");
        try {
            Path photos = eval.resolve("group-photos");
            List<SideBySide.Command> commands = new ArrayList<>();
            for (String setting : new String[] {String.valueOf((int) OLD_DEFAULT), null}) {
                Path work = scratch.resolve(setting == null ? "now" : "old");
                Path pending = work.resolve("pending/bench");
                List<String> argv = new ArrayList<>(List.of(launcher, "ingest", "--directory", pending.toString(), "--job-id", "bench",
                        "--data-dir", work.resolve("data").toString(), "--photos-dir", work.resolve("raw_photos").toString(),
                        "--crops-dir", work.resolve("raw_photos/crops").toString()));
                if (setting != null) argv.addAll(List.of("--min-face", setting));
                commands.add(new SideBySide.Command("ingest, min face " + (setting == null ? "default (20)" : setting) + " px", argv, root).withSetup(() -> {
                    SideBySide.deleteTree(work);
                    Files.createDirectories(pending);
                    try (Stream<Path> s = Files.list(photos)) {
                        for (Path p : s.filter(p -> p.toString().endsWith(".jpg")).toList()) Files.copy(p, pending.resolve(p.getFileName().toString()));
                    }
                }));
            }
            System.out.println();
            System.out.println("Whole process: ./jbang ingest of eval/group-photos into a fresh scratch archive");
            SideBySide.Samples s = SideBySide.run(commands, 2, n);
            SideBySide.printTable(s, commands.get(0));
        } finally {
            SideBySide.deleteTree(scratch);
        }
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
