import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * For each new face, its nearest and second-nearest confirmed identity, an identity's distance
 * being the smallest over its faces (matching-and-merge.md): the kernel of step 4.
 *
 * <p>Distances come from dot products (|a-b|² = |a|² + |b|² - 2a·b), computed in bulk by
 * {@link DotProducts}. Its engines add in different orders, so their sums differ in the last
 * bits. The answer must not: a face close to two identities must get the same proposal on
 * every machine and engine. So the bulk products only choose the candidates — every identity
 * within a proven rounding bound of the second-nearest — and the candidates' squared distances
 * are then recomputed exactly (each dot product summed over the dimensions in order, in float)
 * and compared in identity order, nearest first, earlier identity first on a tie.
 */
public final class NearestIdentities {
    private NearestIdentities() {}

    /** For each new face: the nearest and second-nearest identity (index, or -1) and their exact squared distances. */
    public static final class Nearest {
        public final int[] best, second;
        public final float[] bestD2, secondD2;

        Nearest(int n) {
            best = new int[n];
            second = new int[n];
            bestD2 = new float[n];
            secondD2 = new float[n];
            Arrays.fill(best, -1);
            Arrays.fill(second, -1);
            Arrays.fill(bestD2, Float.POSITIVE_INFINITY);
            Arrays.fill(secondD2, Float.POSITIVE_INFINITY);
        }
    }

    /**
     * a: archive faces, rows grouped by identity (rowIdentity: non-decreasing runs, 0 ≤ id &lt; identities);
     * b: new faces; both row-major with {@code dims} columns. excluded[c] lists the new faces that may not
     * be matched to identity c (or is null).
     */
    public static Nearest find(float[] a, int[] rowIdentity, int identities, float[] b, int dims, int[][] excluded, DotProducts.Engine engine) {
        int na = rowIdentity.length, nb = b.length / dims;
        Nearest out = new Nearest(nb);
        if (na == 0 || nb == 0) return out;
        float[] normA = squaredNorms(a, dims), normB = squaredNorms(b, dims);
        int[] start = new int[identities + 1];
        Arrays.fill(start, -1);
        for (int i = na - 1; i >= 0; i--) start[rowIdentity[i]] = i;
        start[identities] = na;
        for (int c = identities - 1; c >= 0; c--) if (start[c] < 0) start[c] = start[c + 1];   // an identity without rows: empty run
        int[][] excludedFor = byNewFace(excluded, nb);
        float slack = roundingBound(normA, normB, dims);

        float[] row = new float[na], approx = new float[identities];
        boolean[] skip = new boolean[identities];
        int blockRows = DotProducts.blockRows(na);
        try (DotProducts.Blocks products = DotProducts.over(engine, a, b, dims)) {
            for (int j0 = 0; j0 < nb; j0 += blockRows) {
                int j1 = Math.min(nb, j0 + blockRows);
                products.compute(j0, j1);
                for (int j = j0; j < j1; j++) {
                    products.row(j, row);
                    for (int c : excludedFor[j]) skip[c] = true;
                    approxMinima(row, normA, normB[j], start, identities, approx);
                    choose(j, a, b, dims, normA, normB[j], start, identities, approx, skip, slack, out);
                    for (int c : excludedFor[j]) skip[c] = false;
                }
            }
        }
        return out;
    }

    /** approx[c] = min over identity c's rows of |a_i|² + |b_j|² - 2·(the bulk product); +∞ for an identity without rows. */
    private static void approxMinima(float[] row, float[] normA, float nbj, int[] start, int identities, float[] approx) {
        for (int c = 0; c < identities; c++) {
            float m = Float.POSITIVE_INFINITY;
            for (int i = start[c], e = start[c + 1]; i < e; i++) {
                float v = normA[i] + nbj - 2f * row[i];
                if (v < m) m = v;
            }
            approx[c] = m;
        }
    }

    /**
     * The exact choice for new face j. Every identity whose exact distance could be among the two
     * smallest has an approximate one within {@code 2 × slack} of the second-smallest approximate one
     * (each differs from its exact value by at most slack); only those are recomputed.
     */
    private static void choose(int j, float[] a, float[] b, int dims, float[] normA, float nbj, int[] start, int identities,
                               float[] approx, boolean[] skip, float slack, Nearest out) {
        float first = Float.POSITIVE_INFINITY, second = Float.POSITIVE_INFINITY;
        for (int c = 0; c < identities; c++) {
            if (skip[c]) continue;
            float v = approx[c];
            if (v < first) {
                second = first;
                first = v;
            } else if (v < second) second = v;
        }
        float limit = second + 2 * slack;
        for (int c = 0; c < identities; c++) {
            if (skip[c] || !(approx[c] <= limit || Float.isInfinite(limit))) continue;
            if (start[c] == start[c + 1]) continue;
            float v = exactMin(a, b, j, dims, normA, nbj, start[c], start[c + 1]);
            if (v < out.bestD2[j]) {
                out.secondD2[j] = out.bestD2[j];
                out.second[j] = out.best[j];
                out.bestD2[j] = v;
                out.best[j] = c;
            } else if (v < out.secondD2[j]) {
                out.secondD2[j] = v;
                out.second[j] = c;
            }
        }
    }

    /** The exact squared distance of new face j to rows [from, to): each dot product summed in order, in float. */
    private static float exactMin(float[] a, float[] b, int j, int dims, float[] normA, float nbj, int from, int to) {
        float m = Float.POSITIVE_INFINITY;
        int bo = j * dims;
        for (int i = from; i < to; i++) {
            int ao = i * dims;
            float dot = 0f;
            for (int k = 0; k < dims; k++) dot += a[ao + k] * b[bo + k];
            m = Math.min(m, normA[i] + nbj - 2f * dot);
        }
        return m;
    }

    /**
     * A bound on |approximate - exact| squared distance for any pair. Two float sums of n products
     * each lie within γ_n·Σ|a_k·b_k| ≤ γ_n·|a|·|b| of the true dot product (γ_n = n·u / (1 - n·u),
     * u = 2⁻²⁴, whatever the order or fused multiply-adds); the distance doubles that, and its own
     * additions round by u of their size. Doubled again to leave no doubt: it only costs a few
     * more exact recomputations.
     */
    static float roundingBound(float[] normA, float[] normB, int dims) {
        double maxA = 0, maxB = 0;
        for (float v : normA) maxA = Math.max(maxA, v);
        for (float v : normB) maxB = Math.max(maxB, v);
        double u = Math.ulp(1.0f) / 2, gamma = dims * u / (1 - dims * u);
        double ab = Math.sqrt(maxA * maxB);
        double bound = 2 * 2 * gamma * ab + 4 * u * (maxA + maxB + 2 * ab);
        return (float) (2 * bound + Float.MIN_NORMAL);
    }

    /** |v|² of each row, summed in double. */
    static float[] squaredNorms(float[] m, int dims) {
        int n = m.length / dims;
        float[] out = new float[n];
        for (int i = 0; i < n; i++) {
            double s = 0;
            for (int k = 0; k < dims; k++) s += (double) m[i * dims + k] * m[i * dims + k];
            out[i] = (float) s;
        }
        return out;
    }

    /** excluded (identity → new faces) turned around: new face → identities. */
    private static int[][] byNewFace(int[][] excluded, int nb) {
        List<List<Integer>> lists = new ArrayList<>(nb);
        for (int j = 0; j < nb; j++) lists.add(null);
        for (int c = 0; c < excluded.length; c++) {
            if (excluded[c] == null) continue;
            for (int j : excluded[c]) {
                if (j < 0 || j >= nb) continue;
                if (lists.get(j) == null) lists.set(j, new ArrayList<>());
                lists.get(j).add(c);
            }
        }
        int[][] out = new int[nb][];
        for (int j = 0; j < nb; j++) out[j] = lists.get(j) == null ? new int[0] : lists.get(j).stream().mapToInt(Integer::intValue).toArray();
        return out;
    }
}
