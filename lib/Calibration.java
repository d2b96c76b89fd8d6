import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

/**
 * The distance thresholds of one embedding model, measured on people whose faces are known:
 * every pair of faces of one person is a "same" pair, every pair of faces of two people an
 * "other" pair. For a threshold t, the pairs closer than t are the ones a match at t would
 * propose: precision = same / all of them, recall = same / every same pair.
 *
 * <p>The labels are picked the way the archive's own were made for w600k_r50 (HIGH 1.05 = the
 * largest distance with no false match on its golden set):
 * <ul>
 *   <li>VERY HIGH: where recall reaches 10% — the closest tenth of a person's faces, with
 *       100% precision (never above HIGH);</li>
 *   <li>HIGH: the largest distance with 100% precision (the closest other-person pair,
 *       rounded down to the grid);</li>
 *   <li>MODERATE, MEDIUM, LOW: the largest distance above HIGH up to which precision stays at
 *       least 94%, 87% and 69%;</li>
 *   <li>GROUPING (new faces grouped among themselves, with nobody to check): 0.05 stricter
 *       than HIGH, never below VERY HIGH.</li>
 * </ul>
 * Distances are on a grid of 0.01 from 0 to 2 (the range of L2 distances between unit vectors).
 */
public final class Calibration {
    private Calibration() {}

    public static final double STEP = 0.01, MAX = 2.0;
    public static final double VERY_HIGH_RECALL = 0.10, MODERATE_PRECISION = 0.94, MEDIUM_PRECISION = 0.87,
            LOW_PRECISION = 0.69, GROUPING_MARGIN = 0.05;
    /** Fewer people with 2 faces or more than this and the figures mean nothing. */
    public static final int MIN_PEOPLE = 5;

    /** Pair distances, each list sorted ascending. */
    public record Pairs(double[] same, double[] other) {}

    /** One row of the curve: the pairs closer than {@code threshold}. */
    public record Point(double threshold, long samePairs, long otherPairs, double precision, double recall) {}

    /** The proposed thresholds, in models.json's order, with how each came out. */
    public record Proposal(double veryHigh, double high, double moderate, double medium, double low, double grouping,
                           List<String> notes) {
        public double[] values() {
            return new double[] {veryHigh, high, moderate, medium, low, grouping};
        }
    }

    /** Every pair of the people's faces (person -> their unit embeddings). */
    public static Pairs pairs(Map<String, List<float[]>> people) {
        List<String> names = new ArrayList<>(people.keySet());
        List<float[]> all = new ArrayList<>();
        List<Integer> owner = new ArrayList<>();
        for (int p = 0; p < names.size(); p++) {
            for (float[] v : people.get(names.get(p))) {
                all.add(v);
                owner.add(p);
            }
        }
        int n = all.size();
        double[] same = new double[n * (n - 1) / 2], other = new double[n * (n - 1) / 2];
        int s = 0, o = 0;
        for (int i = 0; i < n; i++) {
            for (int j = i + 1; j < n; j++) {
                double d = FaceDistances.distance(all.get(i), all.get(j));
                if (owner.get(i).equals(owner.get(j))) same[s++] = d;
                else other[o++] = d;
            }
        }
        double[] sa = Arrays.copyOf(same, s), oa = Arrays.copyOf(other, o);
        Arrays.sort(sa);
        Arrays.sort(oa);
        return new Pairs(sa, oa);
    }

    /** How many values of a sorted array are below t. */
    static long below(double[] sorted, double t) {
        int lo = 0, hi = sorted.length;
        while (lo < hi) {
            int mid = (lo + hi) >>> 1;
            if (sorted[mid] < t) lo = mid + 1;
            else hi = mid;
        }
        return lo;
    }

    public static Point at(Pairs p, double t) {
        long s = below(p.same(), t), o = below(p.other(), t);
        double precision = s + o == 0 ? 1.0 : (double) s / (s + o);
        double recall = p.same().length == 0 ? 0 : (double) s / p.same().length;
        return new Point(t, s, o, precision, recall);
    }

    /** The whole curve on the grid. */
    public static List<Point> curve(Pairs p) {
        List<Point> out = new ArrayList<>();
        for (int i = 0; i <= grid(MAX); i++) out.add(at(p, t(i)));
        return out;
    }

    public static Proposal propose(Pairs p) {
        List<String> notes = new ArrayList<>();
        // HIGH: every pair closer than it is the same person.
        int high = p.other().length == 0 ? grid(MAX) : Math.min(grid(MAX), (int) Math.floor(p.other()[0] / STEP + 1e-9));
        while (high > 0 && at(p, t(high)).otherPairs() > 0) high--;   // a distance exactly on the grid
        Point atHigh = at(p, t(high));
        int veryHigh = 0;
        while (veryHigh < high && at(p, t(veryHigh)).recall() < VERY_HIGH_RECALL) veryHigh++;
        if (at(p, t(veryHigh)).recall() < VERY_HIGH_RECALL) {
            notes.add(String.format("recall at HIGH is only %.1f%%: VERY HIGH = HIGH", 100 * atHigh.recall()));
        }
        int moderate = lastAtLeast(p, high, MODERATE_PRECISION);
        int medium = lastAtLeast(p, moderate, MEDIUM_PRECISION);
        int low = lastAtLeast(p, medium, LOW_PRECISION);
        int grouping = Math.max(veryHigh, high - grid(GROUPING_MARGIN));
        return new Proposal(t(veryHigh), t(high), t(moderate), t(medium), t(low), t(grouping), notes);
    }

    /** The largest grid step from {@code from} on up to which precision stays >= {@code precision}. */
    static int lastAtLeast(Pairs p, int from, double precision) {
        int i = from;
        while (i < grid(MAX) && at(p, t(i + 1)).precision() >= precision) i++;
        return i;
    }

    static int grid(double v) {
        return (int) Math.round(v / STEP);
    }

    static double t(int i) {
        return Math.round(i * STEP * 100) / 100.0;
    }
}
