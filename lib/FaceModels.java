//DEPS com.microsoft.onnxruntime:onnxruntime:1.29.0
import ai.onnxruntime.NodeInfo;
import ai.onnxruntime.OnnxJavaType;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import ai.onnxruntime.TensorInfo;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.FloatBuffer;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.HashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.zip.Adler32;
import java.util.zip.CRC32;

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

    /**
     * The models of {@code modelsDir} being loaded on another thread while the caller reads the
     * archive and decodes photos ({@link #loadInBackground}), or models already loaded
     * ({@link #loaded}). {@link #get} waits for them (a failure is thrown there, as {@link #open}
     * would have); {@link #close} waits for a load still running and closes what it loaded, so a
     * plan refused half-way leaves no thread and no open session behind. Models given by the
     * caller are the caller's to close.
     */
    public static final class Loading implements AutoCloseable {
        private final java.util.concurrent.CompletableFuture<FaceModels> future;
        private final boolean owned;
        private final Thread loader;   // the thread loading them (loadInBackground), else null

        private Loading(java.util.concurrent.CompletableFuture<FaceModels> future, boolean owned, Thread loader) {
            this.future = future;
            this.owned = owned;
            this.loader = loader;
        }

        public static Loading loaded(FaceModels models) {
            return new Loading(java.util.concurrent.CompletableFuture.completedFuture(models), false, null);
        }

        public static Loading loadInBackground(Path modelsDir, int intraOpThreads) {
            java.util.concurrent.CompletableFuture<FaceModels> f = new java.util.concurrent.CompletableFuture<>();
            Thread t = new Thread(null, () -> {
                try {
                    f.complete(open(modelsDir, intraOpThreads));
                } catch (Throwable e) {
                    f.completeExceptionally(e);
                }
            }, "face-models-load", BIG_STACK);
            t.setDaemon(true);   // close() waits for it; daemon only so a JVM exiting on an error is never held
            t.start();
            return new Loading(f, true, t);
        }

        /**
         * A view of these models that looks for faces of {@code px} and more, set once as soon as
         * they are loaded (before any caller of {@link #get} sees them); closing the view closes nothing.
         */
        public Loading minFace(double px) {
            return new Loading(future.thenApply(m -> {
                m.detector.minFace(px);
                return m;
            }), false, null);
        }

        /** The models, once loaded; a failure to load them is thrown here (a KitException naming the file). */
        public FaceModels get() throws InterruptedException {
            try {
                return future.get();
            } catch (java.util.concurrent.ExecutionException e) {
                if (e.getCause() instanceof RuntimeException r) throw r;
                if (e.getCause() instanceof Error err) throw err;
                throw new IllegalStateException(e.getCause());
            }
        }

        @Override
        public void close() {
            if (!owned) return;
            boolean interrupted = false;
            while (true) {
                try {
                    future.get().close();
                    break;
                } catch (InterruptedException e) {
                    interrupted = true;   // the load cannot be stopped: wait for it, then close it
                } catch (java.util.concurrent.ExecutionException e) {
                    break;                // nothing was loaded (the failure was, or will be, reported by get)
                }
            }
            // The thread completes the future just before it ends: wait for the end too, so that none outlives the plan.
            while (loader != null) {
                try {
                    loader.join();
                    break;
                } catch (InterruptedException e) {
                    interrupted = true;
                }
            }
            if (interrupted) Thread.currentThread().interrupt();
        }
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

    /**
     * ONNX Runtime's optimised form of each model file, kept in the kit's .kit/onnx-optimised/ so
     * that a session is made from it without optimising the graph again: most of a session's
     * set-up is that optimisation (measured 78 -> 12 ms for fr_feature), paid by every ingest.
     *
     * <p>An entry is named {@code <model stem>-<key>-<check>.onnx}. The key covers everything
     * that shapes the optimised graph: the model file's content (CRC-32 + Adler-32 + size, both
     * computed natively by zlib, so a C1-only JVM pays ~1 ms per MB rather than a cold SHA-256),
     * ONNX Runtime's version, the session options and the CPU (its optimised graphs may use
     * instructions of the machine they were made on). {@code check} is the entry's own CRC-32:
     * an entry damaged on disk is deleted and made again, and so is one ONNX Runtime refuses.
     * An entry appears only complete (written beside it, then renamed). Models and the archive
     * are never written here; without a cache folder, or when anything here fails, the session
     * is made from the model file as always.
     */
    public static final class OptimisedModels {
        /** Where an entry's session came from: the cache, or the model file (and then an entry was, or could not be, written). */
        public enum Source { CACHE, MODEL_FILE }

        /** A session and where it came from. */
        public record Opened(OrtSession session, Source source) {}

        private final Path dir;   // null: no cache

        public OptimisedModels(Path dir) {
            this.dir = dir;
        }

        /** The kit's cache, in $KIT_HOME/.kit/onnx-optimised (./jbang sets KIT_HOME); none without it. */
        public static OptimisedModels standard() {
            String home = System.getenv("KIT_HOME");
            return new OptimisedModels(home == null || home.isBlank() ? null : Path.of(home, ".kit", "onnx-optimised"));
        }

        public Path dir() {
            return dir;
        }

        /**
         * A session on {@code model}, {@code intraOpThreads} threads inside, every graph
         * optimisation applied: from the cache when it holds this model's optimised graph,
         * else made from the model file (keeping its optimised graph for next time). An
         * OrtException means the model file itself cannot be loaded.
         */
        public Opened open(OrtEnvironment env, Path model, int intraOpThreads) throws OrtException {
            String key = null;
            if (dir != null) {
                try {
                    key = key(env, model, intraOpThreads);
                    Path cached = lookup(model, key);
                    if (cached != null) {
                        try (OrtSession.SessionOptions o = options(intraOpThreads, OrtSession.SessionOptions.OptLevel.NO_OPT)) {
                            return new Opened(env.createSession(cached.toString(), o), Source.CACHE);
                        } catch (OrtException e) {
                            Files.deleteIfExists(cached);   // ONNX Runtime refuses it: made again below
                        }
                    }
                    Files.createDirectories(dir);
                } catch (IOException | RuntimeException e) {
                    key = null;   // no usable cache: the model file as always
                }
            }
            if (key == null) {
                try (OrtSession.SessionOptions o = options(intraOpThreads, OrtSession.SessionOptions.OptLevel.ALL_OPT)) {
                    return new Opened(env.createSession(model.toString(), o), Source.MODEL_FILE);
                }
            }
            Path tmp = dir.resolve(stem(model) + "-" + key + ".tmp." + ProcessHandle.current().pid() + "." + Thread.currentThread().getId() + ".onnx");
            try {
                OrtSession s;
                byte[] faster = fasterForm(env, model, intraOpThreads);
                try (OrtSession.SessionOptions o = options(intraOpThreads, OrtSession.SessionOptions.OptLevel.ALL_OPT)) {
                    o.setOptimizedModelFilePath(tmp.toString());
                    s = faster != null ? env.createSession(faster, o) : env.createSession(model.toString(), o);
                } catch (OrtException e) {
                    // the model itself, or writing its optimised form: made as always, which says which
                    try (OrtSession.SessionOptions o = options(intraOpThreads, OrtSession.SessionOptions.OptLevel.ALL_OPT)) {
                        return new Opened(env.createSession(model.toString(), o), Source.MODEL_FILE);
                    }
                }
                try {
                    if (Files.size(tmp) > 0) {
                        Files.move(tmp, dir.resolve(stem(model) + "-" + key + "-" + check(tmp) + ".onnx"), StandardCopyOption.ATOMIC_MOVE,
                                StandardCopyOption.REPLACE_EXISTING);
                    }
                } catch (IOException | RuntimeException e) {
                    // not kept: the next run makes it again
                }
                return new Opened(s, Source.MODEL_FILE);
            } finally {
                try {
                    Files.deleteIfExists(tmp);
                } catch (IOException ignored) {
                    // a stray temporary file in the cache folder: harmless, never looked up
                }
            }
        }

        /**
         * The model rewritten into a form ONNX Runtime runs faster (PReluAsConvolutions), when
         * that form's outputs are bit for bit the model file's on probe inputs; null: the file
         * as it is. Checked once, when the cache entry is made.
         */
        static byte[] fasterForm(OrtEnvironment env, Path model, int intraOpThreads) {
            try {
                byte[] rewritten = PReluAsConvolutions.rewrite(Files.readAllBytes(model));
                if (rewritten == null) return null;
                try (OrtSession.SessionOptions o = options(intraOpThreads, OrtSession.SessionOptions.OptLevel.ALL_OPT);
                     OrtSession plain = env.createSession(model.toString(), o);
                     OrtSession faster = env.createSession(rewritten, o)) {
                    return sameOutputs(env, plain, faster) ? rewritten : null;
                }
            } catch (IOException | OrtException | RuntimeException e) {
                return null;   // the file as it is
            }
        }

        /** Whether both sessions give the same bits on three probe inputs (fixed seeds: small, unit and large values). */
        static boolean sameOutputs(OrtEnvironment env, OrtSession a, OrtSession b) throws OrtException {
            for (double scale : new double[] {0.1, 1, 3}) {
                Random random = new Random(Double.doubleToLongBits(scale));
                Map<String, OnnxTensor> in = new HashMap<>();
                try {
                    for (Map.Entry<String, NodeInfo> e : a.getInputInfo().entrySet()) {
                        if (!(e.getValue().getInfo() instanceof TensorInfo t) || t.type != OnnxJavaType.FLOAT) return false;
                        long[] shape = t.getShape();
                        int n = 1;
                        for (int i = 0; i < shape.length; i++) {
                            shape[i] = Math.max(1, shape[i]);   // a named dimension: 1
                            n = Math.multiplyExact(n, (int) shape[i]);
                        }
                        float[] v = new float[n];
                        for (int i = 0; i < n; i++) v[i] = (float) (random.nextGaussian() * scale);
                        in.put(e.getKey(), OnnxTensor.createTensor(env, FloatBuffer.wrap(v), shape));
                    }
                    try (OrtSession.Result ra = a.run(in); OrtSession.Result rb = b.run(in)) {
                        if (ra.size() != rb.size()) return false;
                        for (int i = 0; i < ra.size(); i++) {
                            if (!(ra.get(i) instanceof OnnxTensor ta) || !(rb.get(i) instanceof OnnxTensor tb)) return false;
                            if (ta.getInfo().type != OnnxJavaType.FLOAT || tb.getInfo().type != OnnxJavaType.FLOAT) return false;
                            FloatBuffer fa = ta.getFloatBuffer(), fb = tb.getFloatBuffer();
                            if (fa.remaining() != fb.remaining()) return false;
                            while (fa.hasRemaining()) if (Float.floatToRawIntBits(fa.get()) != Float.floatToRawIntBits(fb.get())) return false;
                        }
                    }
                } finally {
                    for (OnnxTensor t : in.values()) t.close();
                }
            }
            return true;
        }

        private static OrtSession.SessionOptions options(int intraOpThreads, OrtSession.SessionOptions.OptLevel level) throws OrtException {
            OrtSession.SessionOptions o = new OrtSession.SessionOptions();
            try {
                o.setIntraOpNumThreads(Math.max(1, intraOpThreads));
                o.setInterOpNumThreads(1);
                o.setOptimizationLevel(level);
                return o;
            } catch (OrtException | RuntimeException e) {
                o.close();
                throw e;
            }
        }

        /** The cached entry for this model and key whose content passes its check; a damaged one is deleted. */
        Path lookup(Path model, String key) throws IOException {
            if (!Files.isDirectory(dir)) return null;
            String prefix = stem(model) + "-" + key + "-";
            try (DirectoryStream<Path> s = Files.newDirectoryStream(dir, p -> {
                String n = p.getFileName().toString();
                return n.startsWith(prefix) && n.endsWith(".onnx") && !n.contains(".tmp.");
            })) {
                for (Path p : s) {
                    String n = p.getFileName().toString();
                    String want = n.substring(prefix.length(), n.length() - ".onnx".length());
                    if (want.equals(check(p))) return p;
                    Files.deleteIfExists(p);
                }
            }
            return null;
        }

        /** The model's cache key (hex): its content, size, ONNX Runtime's version, the options and the CPU. */
        static String key(OrtEnvironment env, Path model, int intraOpThreads) throws IOException {
            CRC32 crc = new CRC32();
            Adler32 adler = new Adler32();
            long size;
            try (FileChannel ch = FileChannel.open(model, StandardOpenOption.READ)) {
                size = ch.size();
                for (long pos = 0; pos < size; pos += Integer.MAX_VALUE) {
                    MappedByteBuffer b = ch.map(FileChannel.MapMode.READ_ONLY, pos, Math.min(Integer.MAX_VALUE, size - pos));
                    crc.update(b.duplicate());
                    adler.update(b);
                }
            }
            String settings = env.getVersion() + "|intra=" + Math.max(1, intraOpThreads) + "|inter=1|opt=all|prelu-as-conv|" + Cpu.ID;
            CRC32 s = new CRC32();
            s.update(settings.getBytes(java.nio.charset.StandardCharsets.UTF_8));
            return String.format(Locale.ROOT, "%08x%08x%x-%08x", crc.getValue(), adler.getValue(), size, s.getValue());
        }

        /** An entry's own check: the CRC-32 of its content (hex). */
        static String check(Path file) throws IOException {
            CRC32 crc = new CRC32();
            try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
                long size = ch.size();
                for (long pos = 0; pos < size; pos += Integer.MAX_VALUE) {
                    crc.update(ch.map(FileChannel.MapMode.READ_ONLY, pos, Math.min(Integer.MAX_VALUE, size - pos)));
                }
            }
            return String.format(Locale.ROOT, "%08x", crc.getValue());
        }

        /** The model file's name without .onnx, kept to safe characters. */
        static String stem(Path model) {
            String n = model.getFileName().toString();
            if (n.toLowerCase(Locale.ROOT).endsWith(".onnx")) n = n.substring(0, n.length() - 5);
            return n.replaceAll("[^A-Za-z0-9_.]", "_");
        }

        /** The CPU as far as an optimised graph may depend on it: architecture, model and feature flags. */
        static final class Cpu {
            static final String ID = id();

            private static String id() {
                StringBuilder sb = new StringBuilder(System.getProperty("os.arch", "?"));
                try {
                    for (String line : Files.readAllLines(Path.of("/proc/cpuinfo"))) {
                        if (line.startsWith("model name") || line.startsWith("flags") || line.startsWith("Features") || line.startsWith("CPU part")) {
                            sb.append('|').append(line.trim());
                            if (line.startsWith("flags") || line.startsWith("Features")) break;   // the first core's say
                        }
                    }
                } catch (IOException | RuntimeException e) {
                    // no /proc (not Linux): the architecture alone
                }
                return sb.toString();
            }
        }
    }

    /** Stack size for threads that call into ONNX Runtime. */
    public static final long BIG_STACK = OnnxRuntimeLibraries.THREAD_STACK;

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
            OrtEnvironment env = OnnxRuntimeLibraries.environment();
            return OptimisedModels.standard().open(env, file, intraOpThreads).session();
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
