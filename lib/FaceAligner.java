//DEPS com.microsoft.onnxruntime:onnxruntime:1.29.0
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import java.nio.FloatBuffer;
import java.util.Map;

/**
 * Turns a detected face into the 112x112 picture a recognizer expects: 5 points (eye centres,
 * nose tip, mouth corners) mapped onto the standard ArcFace template by the least-squares
 * similarity (rotation + uniform scale + shift) over all 5 points — a 3-point affine or a
 * RANSAC fit is measurably worse (spec/face-models.md).
 *
 * <p>The 5 points come from the detector (SCRFD) or from the 68-point landmark model run on
 * the square of side = box height around the box centre, 64x64 grey, pixel/256.
 */
public final class FaceAligner {
    public static final int SIZE = 112;
    /** The ArcFace template: left eye, right eye, nose tip, left and right mouth corner. */
    public static final float[] TEMPLATE = {
            38.2946f, 51.6963f, 73.5318f, 51.5014f, 56.0252f, 71.7366f, 41.5493f, 92.3655f, 70.7299f, 92.2041f};
    static final int LM_SIZE = 64;

    private final OrtSession landmarks;  // null when the detector gives the points

    public FaceAligner(OrtSession landmarks) {
        this.landmarks = landmarks;
    }

    /** The 5 points of a face in original pixels (x0,y0,...,x4,y4). */
    public float[] fivePoints(Photos.Image img, FaceDetector.Face face) {
        if (face.kps() != null) return face.kps();
        if (landmarks == null) throw new KitException("no landmark model is loaded and the detector gives no points", "run ./jbang fetch-models");
        return fromLandmarks68(landmarks68(img, face.box()));
    }

    /** The 68 landmarks (x,y pairs, original pixels) of the face in {@code box}. */
    public float[] landmarks68(Photos.Image img, float[] box) {
        float side = box[3] - box[1];
        float cx = (box[0] + box[2]) / 2, cy = (box[1] + box[3]) / 2;
        float x0 = cx - side / 2, y0 = cy - side / 2;
        float[] input = new float[LM_SIZE * LM_SIZE];
        float step = side / LM_SIZE;
        for (int y = 0; y < LM_SIZE; y++) {
            for (int x = 0; x < LM_SIZE; x++) {
                // cv2.resize's pixel-centre convention, grey as cv2 BGR2GRAY
                float sx = x0 + (x + 0.5f) * step - 0.5f, sy = y0 + (y + 0.5f) * step - 0.5f;
                float b = sample(img, sx, sy, 0), g = sample(img, sx, sy, 1), r = sample(img, sx, sy, 2);
                input[y * LM_SIZE + x] = Math.round(0.114f * b + 0.587f * g + 0.299f * r) / 256f;
            }
        }
        float[] out;
        try (OnnxTensor t = OnnxTensor.createTensor(OrtEnvironment.getEnvironment(), FloatBuffer.wrap(input), new long[] {1, 1, LM_SIZE, LM_SIZE});
             OrtSession.Result r = landmarks.run(Map.of(landmarks.getInputNames().iterator().next(), t))) {
            out = ((float[][]) r.get(0).getValue())[0];
        } catch (OrtException e) {
            throw new KitException("the landmark model failed: " + e.getMessage(), "run ./jbang fetch-models --force");
        }
        float[] pts = new float[out.length];
        for (int i = 0; i < out.length; i += 2) {
            pts[i] = x0 + out[i] * side;
            pts[i + 1] = y0 + out[i + 1] * side;
        }
        return pts;
    }

    /** Eye centres = mean of points 36-41 and 42-47, nose tip 30, mouth corners 48 and 54. */
    public static float[] fromLandmarks68(float[] p) {
        float[] five = new float[10];
        for (int i = 36; i <= 41; i++) { five[0] += p[2 * i] / 6; five[1] += p[2 * i + 1] / 6; }
        for (int i = 42; i <= 47; i++) { five[2] += p[2 * i] / 6; five[3] += p[2 * i + 1] / 6; }
        five[4] = p[60]; five[5] = p[61];
        five[6] = p[96]; five[7] = p[97];
        five[8] = p[108]; five[9] = p[109];
        return five;
    }

    /**
     * The similarity [a -b tx; b a ty] that maps {@code src} points onto {@code dst} with the least
     * squared error (closed form; the same optimum as Umeyama's method without reflection).
     */
    public static double[] similarity(float[] src, float[] dst) {
        int n = src.length / 2;
        double mx = 0, my = 0, ux = 0, uy = 0;
        for (int i = 0; i < n; i++) { mx += src[2 * i]; my += src[2 * i + 1]; ux += dst[2 * i]; uy += dst[2 * i + 1]; }
        mx /= n; my /= n; ux /= n; uy /= n;
        double sxx = 0, a = 0, b = 0;
        for (int i = 0; i < n; i++) {
            double x = src[2 * i] - mx, y = src[2 * i + 1] - my, u = dst[2 * i] - ux, v = dst[2 * i + 1] - uy;
            sxx += x * x + y * y;
            a += x * u + y * v;
            b += x * v - y * u;
        }
        if (sxx < 1e-9) throw new KitException("the face's alignment points coincide", null);
        a /= sxx;
        b /= sxx;
        double tx = ux - (a * mx - b * my), ty = uy - (b * mx + a * my);
        return new double[] {a, -b, tx, b, a, ty};
    }

    /** The aligned 112x112 BGR face for the 5 points (original pixels). */
    public Photos.Image align(Photos.Image img, float[] five) {
        double[] m = similarity(five, TEMPLATE);
        // Invert the similarity to find, for each output pixel, where it comes from.
        double a = m[0], b = m[3], det = a * a + b * b;
        double ia = a / det, ib = b / det;  // inverse of [a -b; b a] is [a b; -b a]/det
        Photos.Image out = new Photos.Image(SIZE, SIZE);
        for (int y = 0; y < SIZE; y++) {
            for (int x = 0; x < SIZE; x++) {
                double u = x - m[2], v = y - m[5];
                float sx = (float) (ia * u + ib * v), sy = (float) (-ib * u + ia * v);
                int o = (y * SIZE + x) * 3;
                for (int c = 0; c < 3; c++) out.bgr[o + c] = (byte) Math.round(sampleOrZero(img, sx, sy, c));
            }
        }
        return out;
    }

    /** Bilinear sample with edge pixels repeated (for the landmark square, which may leave the photo). */
    static float sample(Photos.Image img, float x, float y, int c) {
        x = Math.max(0, Math.min(img.width - 1, x));
        y = Math.max(0, Math.min(img.height - 1, y));
        int x0 = (int) x, y0 = (int) y;
        int x1 = Math.min(x0 + 1, img.width - 1), y1 = Math.min(y0 + 1, img.height - 1);
        float fx = x - x0, fy = y - y0;
        float top = img.at(x0, y0, c) * (1 - fx) + img.at(x1, y0, c) * fx;
        float bot = img.at(x0, y1, c) * (1 - fx) + img.at(x1, y1, c) * fx;
        return top * (1 - fy) + bot * fy;
    }

    /** Bilinear sample, black outside the photo (cv2.warpAffine's default border). */
    static float sampleOrZero(Photos.Image img, float x, float y, int c) {
        if (x < -1 || y < -1 || x > img.width || y > img.height) return 0;
        int x0 = (int) Math.floor(x), y0 = (int) Math.floor(y);
        float fx = x - x0, fy = y - y0;
        return px(img, x0, y0, c) * (1 - fx) * (1 - fy) + px(img, x0 + 1, y0, c) * fx * (1 - fy)
                + px(img, x0, y0 + 1, c) * (1 - fx) * fy + px(img, x0 + 1, y0 + 1, c) * fx * fy;
    }

    private static float px(Photos.Image img, int x, int y, int c) {
        return x < 0 || y < 0 || x >= img.width || y >= img.height ? 0 : img.at(x, y, c);
    }
}
