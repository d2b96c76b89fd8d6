import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * For each new face, its nearest and second-nearest confirmed identity, an identity's distance
 * being the smallest over its faces (matching-and-merge.md): the kernel of step 4.
 *
 * <p>Distances come from dot products (|a-b|² = |a|² + |b|² - 2a·b), computed in bulk by
 * {@link DistanceTerms}. Its engines add in different orders, so their sums differ in the last
 * bits. The answer must not: a face close to two identities must get the same proposal on
 * every machine and engine. So the bulk products only choose the candidates — every identity
 * within a proven rounding bound of the second-nearest — and the candidates' squared distances
 * are then recomputed exactly (each dot product summed over the dimensions in order, in float)
 * and compared in identity order, nearest first, earlier identity first on a tie.
 */
public final class NearestIdentities {
    private NearestIdentities() {}

    /**
     * For each new face: the nearest and second-nearest identity (index, or -1) and their squared
     * distances, computed in float; {@code bound}: how far those can be from the true squared distances.
     */
    public static final class Nearest {
        public final int[] best, second;
        public final float[] bestD2, secondD2;
        public final float bound;

        Nearest(int n, float bound) {
            this.bound = bound;
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
     * a: archive faces, one vector each, grouped by identity (rowIdentity: non-decreasing runs, 0 ≤ id &lt;
     * identities); b: new faces; all of one length. The vectors are the store's own arrays, never copied
     * here (tens of megabytes at archive scale). excluded[c] lists the new faces that may not be matched
     * to identity c (or is null).
     */
    public static Nearest find(float[][] a, int[] rowIdentity, int identities, float[][] b, int[][] excluded, DistanceTerms.Engine engine) {
        int na = rowIdentity.length, nb = b.length;
        if (na == 0 || nb == 0) return new Nearest(nb, 0f);
        int dims = a[0].length;
        float[] normA = squaredNorms(a), normB = squaredNorms(b);
        int[] start = new int[identities + 1];
        Arrays.fill(start, -1);
        for (int i = na - 1; i >= 0; i--) start[rowIdentity[i]] = i;
        start[identities] = na;
        for (int c = identities - 1; c >= 0; c--) if (start[c] < 0) start[c] = start[c + 1];   // an identity without rows: empty run
        int[][] excludedFor = byNewFace(excluded, nb);
        float slack = roundingBound(normA, normB, dims);
        Nearest out = new Nearest(nb, slack);

        float[] row = new float[na], approx = new float[identities], values = new float[DistanceTerms.SMALLEST];
        int[] smallestRows = new int[DistanceTerms.SMALLEST], candidates = new int[identities];
        boolean[] skip = new boolean[identities], seen = new boolean[identities];
        int blockRows = DistanceTerms.blockRows(na);
        try (DistanceTerms.Blocks terms = DistanceTerms.over(engine, a, normA, b, dims)) {
            for (int j0 = 0; j0 < nb; j0 += blockRows) {
                int j1 = Math.min(nb, j0 + blockRows);
                terms.compute(j0, j1);
                for (int j = j0; j < j1; j++) {
                    for (int c : excludedFor[j]) skip[c] = true;
                    int kept = terms.smallest(j, values, smallestRows);
                    int n = kept == 0 ? -1 : candidatesAmongSmallest(values, smallestRows, kept, na, rowIdentity, skip, seen, slack, candidates);
                    if (n < 0) {
                        // every term of this face, scanned here: the smallest ones did not settle it
                        terms.row(j, row);
                        approxMinima(row, start, identities, approx);
                        n = candidatesAmongAll(approx, identities, skip, slack, candidates);
                    }
                    choose(j, a, b[j], normA, normB[j], start, candidates, n, out);
                    for (int c : excludedFor[j]) skip[c] = false;
                }
            }
        }
        return out;
    }

    /**
     * approx[c] = min over identity c's rows of the bulk terms |a_i|² − 2·a_i·b_j (+∞ for an identity
     * without rows): the squared distance less |b_j|², the same for every identity.
     */
    private static void approxMinima(float[] row, int[] start, int identities, float[] approx) {
        for (int c = 0; c < identities; c++) {
            float m = Float.POSITIVE_INFINITY;
            for (int i = start[c], e = start[c + 1]; i < e; i++) {
                float v = row[i];
                if (v < m) m = v;
            }
            approx[c] = m;
        }
    }

    /*
     * The candidates: every identity whose exact distance could be among the two smallest. Each
     * approximate distance differs from its exact one by at most slack, so they are the identities
     * whose approximate distance is within 2 × slack of the second-smallest approximate one.
     */

    /** The candidates from every identity's approximate distance (approx), in identity order; returns how many. */
    private static int candidatesAmongAll(float[] approx, int identities, boolean[] skip, float slack, int[] candidates) {
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
        int n = 0;
        for (int c = 0; c < identities; c++) {
            if (!skip[c] && (approx[c] <= limit || Float.isInfinite(limit))) candidates[n++] = c;
        }
        return n;
    }

    /**
     * The candidates from the smallest terms alone (ascending, with their rows), in identity order;
     * -1 when they cannot settle it: when fewer than two identities show among them, or when a term
     * not kept could still be within the limit (the largest kept is not beyond it).
     */
    private static int candidatesAmongSmallest(float[] values, int[] rows, int kept, int na, int[] rowIdentity, boolean[] skip,
                                               boolean[] seen, float slack, int[] candidates) {
        int n = 0, distinct = 0;
        float limit = Float.POSITIVE_INFINITY;
        int q = 0;
        for (; q < kept; q++) {
            float v = values[q];
            if (v != v) break;                              // NaN: leave it to the full scan
            if (v > limit) break;
            int c = rowIdentity[rows[q]];
            if (skip[c] || seen[c]) continue;
            seen[c] = true;
            candidates[n++] = c;
            if (++distinct == 2) limit = v + 2 * slack;   // ascending: v is the second identity's smallest term
        }
        for (int i = 0; i < n; i++) seen[candidates[i]] = false;
        boolean settled = distinct >= 2 && (q < kept && values[q] > limit || q == kept && kept == na) && !Float.isInfinite(limit);
        if (!settled) return -1;
        Arrays.sort(candidates, 0, n);
        return n;
    }

    /** The exact choice for new face j among the candidates (in identity order: on a tie the earlier identity wins). */
    private static void choose(int j, float[][] a, float[] bj, float[] normA, float nbj, int[] start, int[] candidates, int n, Nearest out) {
        for (int q = 0; q < n; q++) {
            int c = candidates[q];
            if (start[c] == start[c + 1]) continue;
            float v = exactMin(a, bj, normA, nbj, start[c], start[c + 1]);
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
    private static float exactMin(float[][] a, float[] bj, float[] normA, float nbj, int from, int to) {
        float m = Float.POSITIVE_INFINITY;
        for (int i = from; i < to; i++) {
            float[] ai = a[i];
            float dot = 0f;
            for (int k = 0; k < bj.length; k++) dot += ai[k] * bj[k];
            m = Math.min(m, normA[i] + nbj - 2f * dot);
        }
        return m;
    }

    /**
     * A bound on |approximate - exact| squared distance for any pair, the approximate one less
     * |b_j|² (which shifts every identity's alike). Two float sums of n products each lie within
     * γ_n·Σ|a_k·b_k| ≤ γ_n·|a|·|b| of the true dot product (γ_n = n·u / (1 - n·u), u = 2⁻²⁴,
     * whatever the order or fused multiply-adds); the distance doubles that, and its own
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
    static float[] squaredNorms(float[][] rows) {
        float[] out = new float[rows.length];
        // Tens of thousands of rows at archive scale, while the other core has nothing to do: both share them.
        java.util.stream.IntStream.range(0, rows.length).parallel().forEach(i -> {
            double s = 0;
            for (float x : rows[i]) s += (double) x * x;
            out[i] = (float) s;
        });
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
