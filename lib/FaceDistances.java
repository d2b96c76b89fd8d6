/**
 * The distance between face embeddings, computed in one place: the plain Euclidean distance in
 * double precision (ingest's grouping, the distances reported in proposals). Finding the nearest
 * identities among an archive's faces in bulk is {@link NearestIdentities}' part.
 */
public final class FaceDistances {
    private FaceDistances() {}

    /** Euclidean distance of two vectors, in double precision. */
    public static double distance(float[] x, float[] y) {
        if (x.length != y.length) throw new IllegalArgumentException("vectors of " + x.length + " and " + y.length + " dimensions");
        return euclidean(x, 0, y, 0, x.length);
    }

    /** Euclidean distance of two vectors stored at offsets of flat arrays, in double precision. */
    public static double euclidean(float[] x, int xo, float[] y, int yo, int dims) {
        double s = 0;
        for (int k = 0; k < dims; k++) {
            double d = (double) x[xo + k] - y[yo + k];
            s += d * d;
        }
        return Math.sqrt(s);
    }

    /** The smallest distance from {@code y} to the vectors [from, to) of {@code rows}, in double precision. */
    static double exactMin(float[][] rows, int from, int to, float[] y) {
        double best = Double.POSITIVE_INFINITY;
        for (int r = from; r < to; r++) best = Math.min(best, euclidean(rows[r], 0, y, 0, y.length));
        return best;
    }
}
