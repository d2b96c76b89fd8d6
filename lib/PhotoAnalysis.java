import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * The heavy part of the ingest, run in parallel and writing nothing: a photo decoded upright
 * (EXIF orientation), its faces found (turned a quarter at a time when a scan was put in
 * sideways), aligned, embedded and cropped. What comes out is small — the crops as JPEG bytes
 * and the vectors — so a plan can hold every photo of a batch until it is applied.
 *
 * <p>A photo whose header declares more pixels than the limit is refused before a single pixel
 * is decoded: a 605 KB PNG of 20000x10000 pixels takes 3.4 GB of memory once decoded.
 */
public final class PhotoAnalysis {
    private PhotoAnalysis() {}

    /**
     * Starts, on a daemon thread, the one-time work every analysis begins with: ONNX Runtime's
     * native libraries and environment, and the image readers and writers (ImageIO's plug-in
     * registry, a tiny JPEG encoded and decoded with its EXIF read). A step script calls it first
     * thing, so this runs on the second core while the command line is parsed and the archive
     * read; it writes nothing, and a failure here is met again, and reported, where it matters.
     */
    public static void warmUpInBackground() {
        OnnxRuntimeLibraries.warmUpInBackground(() -> Photos.decode(Photos.encodeJpeg(new Photos.Image(16, 16), 0.92f), "warm-up.jpg"));
    }

    /** The default pixel limit; {@code --max-megapixels} raises it. A 600 dpi scan of a 10x8 inch print is about 29 MP. */
    public static final double DEFAULT_MAX_MEGAPIXELS = 100;

    /** A face found in a photo: box in the upright photo's pixels, its crop (JPEG) and its embedding. */
    public record FoundFace(float[] box, float score, byte[] cropJpeg, FaceEmbedder.Embedding embedding) {}

    /** One photo analysed: its upright size, EXIF facts, the turn its faces were found at, the faces in reading order. */
    public record Analysed(int width, int height, Photos.Exif exif, int rotation, List<FoundFace> faces) {}

    /** One photo to analyse. */
    public record Task(Path file, String name) {}

    /** What came of one task: {@code analysed}, or {@code problem} (the message names the file and what to do). */
    public record Outcome(Task task, Analysed analysed, String problem, double seconds) {}

    /**
     * Refuses a photo whose header declares more than {@code maxMegapixels}, without decoding it.
     * A header that cannot be read is let through: decoding then says what is wrong.
     */
    public static void checkPixels(byte[] bytes, String name, double maxMegapixels) {
        Photos.Size size = Photos.headerSize(bytes);
        if (size == null || size.megapixels() <= maxMegapixels) return;
        throw new KitException(String.format("%s is %dx%d pixels (%.0f megapixels), above the limit of %s megapixels;"
                        + " decoding it would take gigabytes of memory", name, size.width(), size.height(), size.megapixels(), plain(maxMegapixels)),
                String.format("if it really is one photo, ingest again with --max-megapixels %d (and enough memory, about %d GB);"
                        + " otherwise upload a smaller scan", (long) Math.ceil(size.megapixels()), (long) Math.ceil(size.megapixels() * 17 / 1000)));
    }

    private static String plain(double v) {
        return v == Math.rint(v) ? String.valueOf((long) v) : String.valueOf(v);
    }

    /** Decodes and analyses one photo; a photo that cannot be decoded is a KitException naming it. */
    public static Analysed analyse(byte[] bytes, String name, FaceModels m, double maxMegapixels) {
        return analyse(decode(bytes, name, maxMegapixels), name, m);
    }

    /** The first half of {@link #analyse}, which needs no model: the pixel limit, then the photo decoded upright. */
    static Photos.Decoded decode(byte[] bytes, String name, double maxMegapixels) {
        checkPixels(bytes, name, maxMegapixels);
        Photos.Decoded d = Photos.decode(bytes, name);
        return d;
    }

    /** The second half of {@link #analyse}: the decoded photo's faces found, aligned, embedded and cropped. */
    static Analysed analyse(Photos.Decoded d, String name, FaceModels m) {
        Photos.Image img = d.image();
        int rotation = 0;
        List<FaceDetector.Face> faces = m.detector.detect(img);
        List<FaceEmbedder.Embedding> embeddings = embedAll(m, img, faces);
        Photos.Image seen = img;
        // Old scans are often put in sideways or upside down. When no face is found, or most
        // boxes are wider than tall (faces lying on their side), or most are weak (real upright
        // faces score >= 0.96; a turned photo gives a few 0.9-0.95 boxes), look again turned and
        // keep the turn whose faces the recognizer finds most face-like: the raw embedding norm
        // of an upright face is far higher (measured ~3.3-4.6 vs ~1.5-2.6 for turned ones).
        if (faces.isEmpty() || mostlyLying(faces) || mostlyWeak(faces)) {
            double best = totalQuality(embeddings);
            for (int r : new int[] {90, 180, 270}) {
                Photos.Image turned = Photos.rotate(img, r);
                List<FaceDetector.Face> f = m.detector.detect(turned);
                List<FaceEmbedder.Embedding> e = embedAll(m, turned, f);
                if (totalQuality(e) > best) {
                    best = totalQuality(e);
                    faces = f;
                    embeddings = e;
                    rotation = r;
                    seen = turned;
                }
            }
        }
        List<FoundFace> out = new ArrayList<>();
        for (int i = 0; i < faces.size(); i++) {
            FaceDetector.Face f = faces.get(i);
            out.add(new FoundFace(Photos.unturnBox(f.box(), rotation, img.width, img.height), f.score(),
                    Photos.encodeJpeg(Photos.faceCrop(seen, f.box(), 0.25, 320), 0.92f), embeddings.get(i)));
        }
        return new Analysed(img.width, img.height, d.exif(), rotation, out);
    }

    /**
     * Analyses every task on all cores, the models shared; at most two photos per core in flight
     * (enough to keep the cores busy, little memory). Outcomes come back in task order;
     * {@code afterEach} runs on the calling thread after each one (a progress bar).
     */
    public static List<Outcome> analyseAll(List<Task> tasks, FaceModels m, double maxMegapixels, Runnable afterEach)
            throws InterruptedException {
        return analyseAll(tasks, FaceModels.Loading.loaded(m), maxMegapixels, loaded -> {}, afterEach);
    }

    /**
     * Same, the models possibly still loading: the first photos are read and decoded meanwhile
     * (no model needed for that), and {@code whenLoaded} runs on the calling thread once the
     * models are there, before the first outcome. A failure to load them is thrown.
     */
    static List<Outcome> analyseAll(List<Task> tasks, FaceModels.Loading loading, double maxMegapixels,
                                    java.util.function.Consumer<FaceModels> whenLoaded, Runnable afterEach) throws InterruptedException {
        int workers = Math.max(1, FaceModels.cores());
        ExecutorService pool = Executors.newFixedThreadPool(workers, FaceModels.workerThreads("ingest"));
        List<Outcome> out = new ArrayList<>(tasks.size());
        try {
            Deque<Future<Outcome>> inFlight = new ArrayDeque<>();
            int next = 0;
            boolean loadedSeen = false;
            while (next < tasks.size() || !inFlight.isEmpty()) {
                while (next < tasks.size() && inFlight.size() < 2 * workers) {
                    Task t = tasks.get(next++);
                    inFlight.add(pool.submit(() -> analyseOne(t, loading, maxMegapixels)));
                }
                if (!loadedSeen) {
                    whenLoaded.accept(loading.get());   // a failure to load the models is thrown here, not reported per photo
                    loadedSeen = true;
                }
                try {
                    out.add(inFlight.poll().get());
                } catch (ExecutionException e) {
                    throw new IllegalStateException("a photo analysis failed outside its own error handling", e.getCause());
                }
                afterEach.run();
            }
        } finally {
            pool.shutdownNow();
        }
        return out;
    }

    /** A batch analysed: the model that made its vectors, each task's outcome (in task order), the analysis seconds summed. */
    public record Batch(String embeddingModel, List<Outcome> outcomes, double seconds) {}

    /**
     * What ingest and rescan plans both do: analyse {@code tasks} with {@code shared} models, or with
     * models opened from {@code modelsDir} for this batch only (closed after), looking for faces of
     * {@code minFace} px and more, with a progress bar and a line saying which models.
     */
    public static Batch analyseBatch(List<Task> tasks, FaceModels shared, Path modelsDir, double minFace, double maxMegapixels, Console console)
            throws InterruptedException {
        try (FaceModels.Loading loading = shared != null ? FaceModels.Loading.loaded(shared) : FaceModels.Loading.loadInBackground(modelsDir, 1)) {
            return analyseBatch(tasks, loading, shared != null, minFace, maxMegapixels, console);
        }
    }

    /**
     * Same, with models that may still be loading (the caller started them early and closes
     * them): photos are decoded while they load. {@code alreadyLoaded} only changes the line
     * saying which models.
     */
    public static Batch analyseBatch(List<Task> tasks, FaceModels.Loading loading, boolean alreadyLoaded, double minFace,
                                     double maxMegapixels, Console console) throws InterruptedException {
        FaceModels.Loading sized = loading.minFace(minFace);
        ProgressBar[] bar = new ProgressBar[1];   // drawn once the models are there, under the line naming them
        try {
            List<Outcome> outcomes = analyseAll(tasks, sized, maxMegapixels, m -> {
                console.info(String.format("models: %s (%s detector)%s", m.embeddingModel, m.detector.family(),
                        alreadyLoaded ? ", already loaded" : String.format(", loaded in %.2f s", m.loadSeconds)));
                bar[0] = console.progress("Analysing", tasks.size(), false);
            }, () -> bar[0].advance(1));
            return new Batch(sized.get().embeddingModel, outcomes, outcomes.stream().mapToDouble(Outcome::seconds).sum());
        } finally {
            if (bar[0] != null) bar[0].close();
        }
    }

    private static Outcome analyseOne(Task t, FaceModels.Loading loading, double maxMegapixels) {
        long t0 = System.nanoTime();
        try {
            byte[] bytes = Files.readAllBytes(t.file());
            Photos.Decoded d = decode(bytes, t.name(), maxMegapixels);
            FaceModels m;
            try {
                m = loading.get();
            } catch (RuntimeException | InterruptedException e) {
                return new Outcome(t, null, "the face models did not load", secs(t0));   // the batch fails with the reason (analyseAll)
            }
            var a = analyse(d, t.name(), m);
            return new Outcome(t, a, null, secs(t0));
        } catch (KitException e) {
            return new Outcome(t, null, e.getMessage() + (e.fix() != null ? " -> " + e.fix() : ""), secs(t0));
        } catch (IOException e) {
            return new Outcome(t, null, "cannot read " + t.name() + ": " + e.getMessage() + " -> check the file's permissions", secs(t0));
        } catch (RuntimeException | OutOfMemoryError e) {
            return new Outcome(t, null, "unexpected failure on " + t.name() + ": " + e, secs(t0));
        }
    }

    /** Embeds the faces in reading order (face indices, hence face ids, follow that order). */
    static List<FaceEmbedder.Embedding> embedAll(FaceModels m, Photos.Image img, List<FaceDetector.Face> faces) {
        List<FaceDetector.Face> ordered = FaceDetector.readingOrder(faces);
        faces.clear();
        faces.addAll(ordered);
        List<FaceEmbedder.Embedding> out = new ArrayList<>();
        for (FaceDetector.Face f : faces) out.add(m.embedder.embed(m.aligner.align(img, m.aligner.fivePoints(img, f))));
        return out;
    }

    static double totalQuality(List<FaceEmbedder.Embedding> es) {
        double s = 0;
        for (FaceEmbedder.Embedding e : es) s += e.quality();
        return s;
    }

    static boolean mostlyWeak(List<FaceDetector.Face> faces) {
        long weak = faces.stream().filter(f -> f.score() < 0.96f).count();
        return weak * 2 > faces.size();
    }

    static boolean mostlyLying(List<FaceDetector.Face> faces) {
        long lying = faces.stream().filter(f -> f.width() > 1.05f * f.height()).count();
        return lying * 2 > faces.size();
    }

    private static double secs(long t0) {
        return (System.nanoTime() - t0) / 1e9;
    }
}
