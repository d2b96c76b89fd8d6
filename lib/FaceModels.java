//DEPS com.microsoft.onnxruntime:onnxruntime:1.29.0
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtLoggingLevel;
import ai.onnxruntime.OrtSession;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The active face models of models/models.json, loaded once into ONNX Runtime sessions:
 * detector, optional 68-point landmark model (UltraFace needs it; SCRFD gives 5 points itself)
 * and recognizer. Sessions are safe to share between threads, so one FaceModels serves every
 * worker of an ingest.
 *
 * <p>Threads: each session runs single-threaded inside ({@code intraOpThreads} = 1) when the
 * caller runs several photos or tiles at once, which is what keeps both cores busy with these
 * small models; a caller running one face at a time may pass the number of cores instead.
 */
public final class FaceModels implements AutoCloseable {
    public final FaceDetector detector;
    public final FaceAligner aligner;
    public final FaceEmbedder embedder;
    /** The tag every embedding made here carries, e.g. "faceplugin-fr_feature-0.0.1" or "w600k_r50". */
    public final String embeddingModel;
    public final double loadSeconds;
    private final OrtSession[] sessions;

    private FaceModels(FaceDetector detector, FaceAligner aligner, FaceEmbedder embedder, String embeddingModel,
                       double loadSeconds, OrtSession... sessions) {
        this.detector = detector;
        this.aligner = aligner;
        this.embedder = embedder;
        this.embeddingModel = embeddingModel;
        this.loadSeconds = loadSeconds;
        this.sessions = sessions;
    }

    public static int cores() {
        return Runtime.getRuntime().availableProcessors();
    }

    /** Loads the active models of {@code modelsDir}/models.json. */
    public static FaceModels open(Path modelsDir, int intraOpThreads) {
        long t0 = System.nanoTime();
        ObjectNode doc = ModelCatalog.read(modelsDir);
        ObjectNode det = ModelCatalog.active(doc, "detector", modelsDir);
        ObjectNode lm = ModelCatalog.active(doc, "landmarks", modelsDir);
        ObjectNode rec = ModelCatalog.active(doc, "recognizer", modelsDir);
        if (det == null || rec == null) {
            throw new KitException(ModelCatalog.file(modelsDir) + " names no active detector or recognizer", "run ./jbang fetch-models");
        }
        OrtSession[] made = sessions(modelsDir, intraOpThreads, det, lm, rec);
        OrtSession detS = made[0], lmS = made[1], recS = made[2];
        FaceDetector detector = new FaceDetector(detS, det.path("family").asText(), det.path("score_threshold").asDouble(0));
        if (lmS == null && !ModelCatalog.FAMILY_SCRFD.equals(det.path("family").asText())) {
            throw new KitException("the detector " + det.path("name").asText() + " gives no alignment points and no landmark model is active",
                    "run ./jbang fetch-models to restore the default landmark model");
        }
        FaceAligner aligner = new FaceAligner(lmS);
        FaceEmbedder embedder = new FaceEmbedder(recS, "RGB".equals(rec.path("color").asText("BGR")), rec.path("std").asDouble(128.0));
        detector.secondLook((img, face) -> embedder.embed(aligner.align(img, aligner.fivePoints(img, face))).quality());
        String tag = rec.path("embedding_model").asText(rec.path("name").asText());
        return new FaceModels(detector, aligner, embedder, tag, (System.nanoTime() - t0) / 1e9, detS, lmS, recS);
    }

    /** A session on one model file; a missing or broken file is a KitException naming it. */
    public static OrtSession session(Path file, int intraOpThreads) {
        return sessions(intraOpThreads, file)[0];
    }

    /** Sessions on the model files of {@code entries} (null entries give null sessions). */
    static OrtSession[] sessions(Path modelsDir, int intraOpThreads, ObjectNode... entries) {
        Path[] files = new Path[entries.length];
        for (int i = 0; i < entries.length; i++) {
            if (entries[i] == null) continue;
            files[i] = modelsDir.resolve(entries[i].path("file").asText());
            if (!Files.isRegularFile(files[i])) {
                throw new KitException("model file " + files[i] + " is missing (named in " + ModelCatalog.file(modelsDir) + ")",
                        "run ./jbang fetch-models (default models) or copy the file back into " + modelsDir);
            }
        }
        return sessions(intraOpThreads, files);
    }

    /**
     * Sessions on {@code files}, made at once, one thread each: most of a session's set-up is
     * single-threaded graph optimisation, so on two cores three models load in the time of the
     * largest. ONNX Runtime's set-up recurses deeply in native code: on a thread with the JVM's
     * default 1 MB stack (the main thread of a JVM with a long class path) it can overflow and
     * kill the process without a word, so each runs on a thread with a roomy stack. The first
     * failure, in the order given, is the one reported.
     */
    static OrtSession[] sessions(int intraOpThreads, Path... files) {
        NativeLibraries.useUnpacked();
        OrtSession[] made = new OrtSession[files.length];
        RuntimeException[] failed = new RuntimeException[files.length];
        Thread[] threads = new Thread[files.length];
        for (int i = 0; i < files.length; i++) {
            if (files[i] == null) continue;
            int k = i;
            threads[i] = new Thread(null, () -> {
                try {
                    made[k] = createSession(files[k], intraOpThreads);
                } catch (RuntimeException e) {
                    failed[k] = e;
                }
            }, "onnx-session-setup-" + k, BIG_STACK);
            threads[i].start();
        }
        boolean interrupted = false;
        for (Thread t : threads) {
            while (t != null) {
                try {
                    t.join();
                    break;
                } catch (InterruptedException e) {
                    interrupted = true;   // the set-up threads cannot be stopped: wait for them, then say so
                }
            }
        }
        RuntimeException first = null;
        for (RuntimeException e : failed) if (first == null && e != null) first = e;
        if (interrupted || first != null) {
            for (OrtSession s : made) close(s);
            if (interrupted) {
                Thread.currentThread().interrupt();
                throw new KitException("interrupted while loading the face models", null);
            }
            throw first;
        }
        return made;
    }

    /**
     * ONNX Runtime's native libraries (28 MB), kept unpacked in the kit's .kit/onnxruntime/<key>/.
     * Left to itself ONNX Runtime inflates them from its jar into a fresh temporary folder on
     * every run and deletes them at exit: a third of a second of every ingest. The key is the
     * jar's path, size and time, so another ONNX Runtime unpacks afresh; a folder appears only
     * complete (unpacked beside it, then renamed). Without KIT_HOME (./jbang sets it), or when
     * anything here fails, ONNX Runtime unpacks as it always did.
     */
    static final class NativeLibraries {
        private NativeLibraries() {}

        static final String PROPERTY = "onnxruntime.native.path";
        private static boolean done;

        static synchronized void useUnpacked() {
            if (done) return;
            done = true;
            if (System.getProperty(PROPERTY) != null) return;
            String home = System.getenv("KIT_HOME");
            String platform = platform();
            if (home == null || platform == null) return;
            try {
                java.net.URL jarUrl = OrtEnvironment.class.getProtectionDomain().getCodeSource().getLocation();
                Path jar = Path.of(jarUrl.toURI());
                if (!Files.isRegularFile(jar)) return;
                String[] names = {System.mapLibraryName("onnxruntime"), System.mapLibraryName("onnxruntime4j_jni")};
                String key = Integer.toHexString((jar.toAbsolutePath() + "|" + Files.size(jar) + "|" + Files.getLastModifiedTime(jar).toMillis()).hashCode());
                Path dir = Path.of(home, ".kit", "onnxruntime", platform + "-" + key);
                if (!Files.isDirectory(dir)) unpack(dir, platform, names);
                for (String n : names) if (!Files.isRegularFile(dir.resolve(n))) return;
                System.setProperty(PROPERTY, dir.toString());
            } catch (Exception | LinkageError e) {
                // ONNX Runtime's own unpacking still works: only slower
            }
        }

        private static void unpack(Path dir, String platform, String[] names) throws java.io.IOException {
            Files.createDirectories(dir.getParent());
            Path tmp = Files.createTempDirectory(dir.getParent(), dir.getFileName() + ".tmp");
            try {
                for (String n : names) {
                    try (java.io.InputStream in = OrtEnvironment.class.getResourceAsStream("/ai/onnxruntime/native/" + platform + "/" + n)) {
                        if (in == null) return;
                        Files.copy(in, tmp.resolve(n));
                    }
                }
                try {
                    Files.move(tmp, dir, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
                } catch (java.nio.file.FileAlreadyExistsException | java.nio.file.DirectoryNotEmptyException e) {
                    // another run unpacked the same at the same time: its folder is as good
                }
            } finally {
                if (Files.isDirectory(tmp)) {
                    try (java.util.stream.Stream<Path> s = Files.list(tmp)) {
                        for (Path p : s.toList()) Files.deleteIfExists(p);
                    }
                    Files.deleteIfExists(tmp);
                }
            }
        }

        /** ONNX Runtime's name for this machine's folder in its jar (linux-x64, osx-aarch64, ...); null: leave it to ONNX Runtime. */
        static String platform() {
            String os = System.getProperty("os.name", "").toLowerCase(java.util.Locale.ROOT);
            String arch = System.getProperty("os.arch", "").toLowerCase(java.util.Locale.ROOT);
            String o = os.contains("linux") ? "linux" : os.contains("mac") || os.contains("darwin") ? "osx" : null;
            String a = arch.startsWith("amd64") || arch.startsWith("x86_64") ? "x64" : arch.startsWith("aarch64") ? "aarch64" : null;
            return o == null || a == null ? null : o + "-" + a;
        }
    }

    /** Stack size for threads that call into ONNX Runtime. */
    public static final long BIG_STACK = 64L << 20;

    /** A thread factory for workers that run the models (see {@link #session}). */
    public static java.util.concurrent.ThreadFactory workerThreads(String name) {
        java.util.concurrent.atomic.AtomicInteger n = new java.util.concurrent.atomic.AtomicInteger();
        return r -> {
            Thread t = new Thread(null, r, name + "-" + n.incrementAndGet(), BIG_STACK);
            t.setDaemon(true);
            return t;
        };
    }

    private static OrtSession createSession(Path file, int intraOpThreads) {
        try {
            OrtEnvironment env = OrtEnvironment.getEnvironment(OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR, "kit");
            OrtSession.SessionOptions o = new OrtSession.SessionOptions();
            o.setIntraOpNumThreads(Math.max(1, intraOpThreads));
            o.setInterOpNumThreads(1);
            o.setOptimizationLevel(OrtSession.SessionOptions.OptLevel.ALL_OPT);
            return env.createSession(file.toString(), o);
        } catch (OrtException e) {
            throw new KitException("model file " + file + " cannot be loaded by ONNX Runtime (" + e.getMessage() + ")",
                    "run ./jbang fetch-models --force to reinstall the default models, or replace the file");
        }
    }

    @Override
    public void close() {
        for (OrtSession s : sessions) close(s);
    }

    private static void close(OrtSession s) {
        if (s == null) return;
        try {
            s.close();
        } catch (OrtException ignored) {
            // closing at exit: nothing useful to do about it
        }
    }
}
