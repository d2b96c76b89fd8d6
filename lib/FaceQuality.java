/**
 * When a face has too few pixels for the model to be trusted with it: such a face is found,
 * stored and shown like any other (a person can still name it), but matching never proposes it.
 */
public final class FaceQuality {
    private FaceQuality() {}

    /** Faces narrower than this, in the photo's pixels, are low quality. */
    public static final float LOW_QUALITY_PX = 30;

    /** True for a box [x1, y1, x2, y2] narrower than {@link #LOW_QUALITY_PX}; false when there is no box. */
    public static boolean lowQuality(float[] box) {
        return box != null && box.length >= 4 && box[2] - box[0] < LOW_QUALITY_PX;
    }
}
