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
        OnnxRuntimeLibraries.useUnpacked();
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
