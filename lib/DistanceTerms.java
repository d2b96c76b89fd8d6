//DEPS com.microsoft.onnxruntime:onnxruntime:1.29.0
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;

/**
 * The bulk of matching's arithmetic: for new faces b_j and archive faces a_i, the terms
 * |a_i|² − 2·a_i·b_j of their squared distances |a_i − b_j|² = |a_i|² − 2·a_i·b_j + |b_j|²,
 * a block of new faces at a time (1,500 × 16,000 dot products of 512 dimensions at 17,500
 * faces). The last term is the same for every archive face, so it is left out: it does not
 * change which archive face is nearest.
 *
 * <p>Two engines give the same numbers up to the last bits of each sum (they add in different
 * orders); {@link NearestIdentities} allows for that and recomputes every close call exactly, so
 * the proposals do not depend on the engine:
 * <ul>
 *   <li>ONNX Runtime's Gemm (its MLAS kernels), about 2.5× the JIT's loops on this kind of
 *       machine. ONNX Runtime takes a few tenths of a second to load, so {@link #loadInBackground}
 *       starts it while the archive is being read.
 *   <li>plain Java loops, when ONNX Runtime cannot be loaded here (the reason is kept in
 *       {@link Engine#fallbackReason}).
 * </ul>
 */
public final class DistanceTerms {
    private DistanceTerms() {}

    /** What computes the products: ONNX Runtime's Gemm session, or (session null) the Java loops. */
    public static final class Engine implements AutoCloseable {
        private final OrtEnvironment env;
        private final OrtSession gemm;
        /** Why the Java loops are used; null when ONNX Runtime is. */
        public final String fallbackReason;

        private Engine(OrtEnvironment env, OrtSession gemm, String fallbackReason) {
            this.env = env;
            this.gemm = gemm;
            this.fallbackReason = fallbackReason;
        }

        public boolean onnxRuntime() {
            return gemm != null;
        }

        @Override
        public void close() {
            if (gemm == null) return;
            try {
                gemm.close();
            } catch (OrtException ignored) {
                // at exit: nothing to do about it
            }
        }
    }

    /** The Java loops only. */
    public static Engine javaLoops() {
        return new Engine(null, null, "asked for the Java loops");
    }

    /** Starts loading ONNX Runtime and its Gemm session on a thread of its own; never fails (falls back to the Java loops). */
    public static CompletableFuture<Engine> loadInBackground() {
        CompletableFuture<Engine> f = new CompletableFuture<>();
        Thread t = new Thread(null, () -> f.complete(load()), "onnx-gemm-setup", OnnxRuntimeLibraries.THREAD_STACK);
        t.setDaemon(true);
        t.start();
        return f;
    }

    /** The engine, or the Java loops when the future failed or was never started. */
    public static Engine await(CompletableFuture<Engine> pending) {
        if (pending == null) return javaLoops();
        try {
            return pending.join();
        } catch (RuntimeException e) {
            return new Engine(null, null, String.valueOf(e.getMessage()));
        }
    }

    private static Engine load() {
        try {
            OrtEnvironment env = OnnxRuntimeLibraries.environment();
            // products = |a_i|² - 2·b_j·a_i: Gemm with alpha -2 and the archive's squared norms as its bias row
            OnnxGraph g = new OnnxGraph("face_distance_terms");
            g.input("new_faces", "n", "dims");
            g.input("archive_faces", "m", "dims");
            g.input("archive_norms", 1, "m");
            g.node("Gemm", List.of("new_faces", "archive_faces", "archive_norms"), List.of("terms"),
                    OnnxGraph.Attr.ints("transB", 1), OnnxGraph.Attr.floats("alpha", -2f));
            g.output("terms", "n", "m");
            // and each new face's k smallest terms with their rows, so Java need not scan every term
            g.int64Input("k", 1);
            g.node("TopK", List.of("terms", "k"), List.of("smallest", "smallest_rows"),
                    OnnxGraph.Attr.ints("largest", 0), OnnxGraph.Attr.ints("sorted", 1));
            g.output("smallest", "n", "k");
            g.int64Output("smallest_rows", "n", "k");
            OrtSession.SessionOptions o = new OrtSession.SessionOptions();
            o.setIntraOpNumThreads(Runtime.getRuntime().availableProcessors());
            o.setInterOpNumThreads(1);
            // Java works between two products: ONNX Runtime's threads must not spin on the cores meanwhile.
            o.addConfigEntry("session.intra_op.allow_spinning", "0");
            return new Engine(env, env.createSession(g.model("kit", 13), o), null);
        } catch (OrtException | RuntimeException | LinkageError e) {
            return new Engine(null, null, "ONNX Runtime could not be loaded: " + e);
        }
    }

    /** New faces per block: as many as keep one block's terms near 32 MB (16 to 256). */
    static int blockRows(int archiveRows) {
        return Math.max(16, Math.min(256, (8 << 20) / Math.max(1, archiveRows)));
    }

    /** Smallest terms kept per new face (when the engine keeps them). */
    static final int SMALLEST = 64;

    /** The terms of blocks of b's rows against every row of a (both row-major, {@code dims} columns). */
    public interface Blocks extends AutoCloseable {
        /** Copies new face j's terms into {@code row}: row[i] = |a_i|² − 2·a_i·b_j. Call {@link #compute} on its block first. */
        void row(int j, float[] row);

        /**
         * New face j's smallest terms, ascending, and their archive rows, into values and rows (of at
         * least {@link #SMALLEST} places); returns how many, or 0 when this engine keeps none (then use {@link #row}).
         */
        int smallest(int j, float[] values, int[] rows);

        /** Computes the terms of new faces [j0, j1) (at most {@link #blockRows} of them). */
        void compute(int j0, int j1);

        @Override
        void close();
    }

    /** a: the archive's faces, b: the new faces (one vector each, {@code dims} long); normA: |a_i|² of each archive face. */
    public static Blocks over(Engine engine, float[][] a, float[] normA, float[][] b, int dims) {
        if (engine.onnxRuntime()) {
            try {
                return new OnnxBlocks(engine, a, normA, b, dims);
            } catch (OrtException e) {
                // fall through: the Java loops give the same proposals
            }
        }
        return new JavaBlocks(a, normA, b, dims);
    }

    /** ONNX Runtime's Gemm on direct buffers: the archive's matrix is handed over once, the terms land in place. */
    private static final class OnnxBlocks implements Blocks {
        private final Engine engine;
        private final float[][] b;
        private final int dims, na;
        private final OnnxTensor archive, norms, k;
        private final FloatBuffer in, out, smallest;
        private final java.nio.LongBuffer smallestRows;
        private final int kept;
        private int j0, bs;

        OnnxBlocks(Engine engine, float[][] a, float[] normA, float[][] b, int dims) throws OrtException {
            this.engine = engine;
            this.b = b;
            this.dims = dims;
            this.na = a.length;
            // Tens of megabytes at archive scale: both cores copy (each row to its own place).
            FloatBuffer ab = direct(na * dims);
            java.util.stream.IntStream.range(0, na).parallel().forEach(i -> ab.put(i * dims, a[i]));
            this.archive = OnnxTensor.createTensor(engine.env, ab, new long[] {na, dims});
            FloatBuffer nb = direct(na);
            nb.put(normA).flip();
            this.norms = OnnxTensor.createTensor(engine.env, nb, new long[] {1, na});
            this.kept = Math.min(SMALLEST, na);
            this.k = OnnxTensor.createTensor(engine.env, new long[] {kept});
            int rows = blockRows(na);
            this.in = direct(rows * dims);
            this.out = direct(rows * na);
            this.smallest = direct(rows * kept);
            this.smallestRows = ByteBuffer.allocateDirect(rows * kept * 8).order(ByteOrder.nativeOrder()).asLongBuffer();
        }

        private static FloatBuffer direct(int floats) {
            return ByteBuffer.allocateDirect(floats * 4).order(ByteOrder.nativeOrder()).asFloatBuffer();
        }

        @Override
        public void compute(int j0, int j1) {
            this.j0 = j0;
            this.bs = j1 - j0;
            in.clear();
            for (int j = j0; j < j1; j++) in.put(b[j]);
            in.flip();
            out.clear().limit(bs * na);
            smallest.clear().limit(bs * kept);
            smallestRows.clear().limit(bs * kept);
            try (OnnxTensor newFaces = OnnxTensor.createTensor(engine.env, in, new long[] {bs, dims});
                 OnnxTensor terms = OnnxTensor.createTensor(engine.env, out, new long[] {bs, na});
                 OnnxTensor values = OnnxTensor.createTensor(engine.env, smallest, new long[] {bs, kept});
                 OnnxTensor rows = OnnxTensor.createTensor(engine.env, smallestRows, new long[] {bs, kept});
                 OrtSession.Result r = engine.gemm.run(Map.of("new_faces", newFaces, "archive_faces", archive, "archive_norms", norms, "k", k),
                         Map.of("terms", terms, "smallest", values, "smallest_rows", rows))) {
                // the results are in the pinned outputs' buffers
            } catch (OrtException e) {
                throw new IllegalStateException("ONNX Runtime's matrix product failed: " + e.getMessage(), e);
            }
        }

        @Override
        public void row(int j, float[] row) {
            out.get((j - j0) * na, row, 0, na);
        }

        @Override
        public int smallest(int j, float[] values, int[] rows) {
            int o = (j - j0) * kept;
            smallest.get(o, values, 0, kept);
            for (int q = 0; q < kept; q++) rows[q] = (int) smallestRows.get(o + q);
            return kept;
        }

        @Override
        public void close() {
            archive.close();
            norms.close();
            k.close();
        }
    }

    /**
     * The Java loops: for a block of new faces (transposed, so the inner loop is a plain
     * multiply-add over arrays the JIT turns into SIMD instructions), four archive rows per pass.
     */
    private static final class JavaBlocks implements Blocks {
        private final float[][] a, b;
        private final float[] normA;
        private final int dims, na;
        private float[] terms = new float[0];
        private int j0, bs;

        JavaBlocks(float[][] a, float[] normA, float[][] b, int dims) {
            this.a = a;
            this.normA = normA;
            this.b = b;
            this.dims = dims;
            this.na = a.length;
        }

        @Override
        public void compute(int j0, int j1) {
            this.j0 = j0;
            this.bs = j1 - j0;
            float[][] bt = new float[dims][bs];
            for (int j = 0; j < bs; j++) for (int k = 0; k < dims; k++) bt[k][j] = b[j0 + j][k];
            if (terms.length < bs * na) terms = new float[bs * na];
            float[][] dot = new float[4][bs];
            for (int i = 0; i < na; i += 4) {
                int n = Math.min(4, na - i);
                dots(i, n, bt, dot);
                for (int r = 0; r < n; r++) for (int j = 0; j < bs; j++) terms[j * na + i + r] = normA[i + r] - 2f * dot[r][j];
            }
        }

        @Override
        public void row(int j, float[] row) {
            System.arraycopy(terms, (j - j0) * na, row, 0, na);
        }

        @Override
        public int smallest(int j, float[] values, int[] rows) {
            return 0;
        }

        @Override
        public void close() {}

        // The loops live in small methods: each is compiled once, as a whole, rather than on the stack (OSR).
        private void dots(int i, int n, float[][] bt, float[][] dot) {
            for (float[] d : dot) Arrays.fill(d, 0f);
            if (n == 4) {
                float[] d0 = dot[0], d1 = dot[1], d2 = dot[2], d3 = dot[3];
                float[] a0 = a[i], a1 = a[i + 1], a2 = a[i + 2], a3 = a[i + 3];
                for (int k = 0; k < dims; k++) axpy4(a0[k], a1[k], a2[k], a3[k], bt[k], d0, d1, d2, d3, bs);
            } else {
                for (int r = 0; r < n; r++) for (int k = 0; k < dims; k++) axpy(a[i + r][k], bt[k], dot[r], bs);
            }
        }

        private static void axpy(float x, float[] y, float[] acc, int n) {
            for (int j = 0; j < n; j++) acc[j] += x * y[j];
        }

        /** y is read once for four multiply-adds. */
        private static void axpy4(float x0, float x1, float x2, float x3, float[] y,
                                  float[] acc0, float[] acc1, float[] acc2, float[] acc3, int n) {
            for (int j = 0; j < n; j++) {
                float v = y[j];
                acc0[j] += x0 * v;
                acc1[j] += x1 * v;
                acc2[j] += x2 * v;
                acc3[j] += x3 * v;
            }
        }
    }
}
