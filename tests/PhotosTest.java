import static org.junit.jupiter.api.Assertions.*;

import java.util.Random;
import org.junit.jupiter.api.Test;

/** The pixel arithmetic shared by face detection, crops and the review page: sped up, never changed. */
class PhotosTest {
    @Test
    void roundHalfUpIsMathRoundForEveryPixelValue() {
        // Every float from 2^-10 to 256, the range of a mixed pixel: 150 million of them. (The billion
        // below 2^-10 add up with the half to less than one: both give 0, as the first ones show.)
        long differ = 0;
        float first = Float.NaN;
        for (int bits = 0; bits < 1000; bits++) assertEquals(0, Photos.roundHalfUp(Float.intBitsToFloat(bits)));
        for (int bits = Float.floatToRawIntBits(0x1p-10f), last = Float.floatToRawIntBits(256f); bits <= last; bits++) {
            float v = Float.intBitsToFloat(bits);
            if (Photos.roundHalfUp(v) != Math.round(v)) {
                if (differ++ == 0) first = v;
            }
        }
        assertEquals(0, differ, "roundHalfUp differs from Math.round, first at " + first);
    }

    @Test
    void bilinearGivesTheBitsOfThePlainFormula() {
        Random r = new Random(3);
        for (int t = 0; t < 500; t++) {
            int sw = 1 + r.nextInt(300), sh = 1 + r.nextInt(300), w = 1 + r.nextInt(200), h = 1 + r.nextInt(200);
            Photos.Image src = new Photos.Image(sw, sh);
            r.nextBytes(src.bgr);
            assertArrayEquals(plainBilinear(src, w, h), Photos.bilinear(src, w, h).bgr, sw + "x" + sh + " -> " + w + "x" + h);
        }
    }

    /** The bilinear resize as first written: pixel centres aligned, each channel with Math.round. */
    static byte[] plainBilinear(Photos.Image src, int w, int h) {
        byte[] s = src.bgr, o = new byte[w * h * 3];
        double sx = (double) src.width / w, sy = (double) src.height / h;
        int oi = 0;
        for (int y = 0; y < h; y++) {
            double gy = (y + 0.5) * sy - 0.5;
            int iy = (int) Math.floor(gy);
            float fy = (float) (gy - iy);
            if (iy < 0) { iy = 0; fy = 0; }
            if (iy >= src.height - 1) { iy = src.height - 1; fy = 0; }
            int iy1 = Math.min(iy + 1, src.height - 1);
            for (int x = 0; x < w; x++) {
                double gx = (x + 0.5) * sx - 0.5;
                int ix = (int) Math.floor(gx);
                float f = (float) (gx - ix);
                if (ix < 0) { ix = 0; f = 0; }
                if (ix >= src.width - 1) { ix = src.width - 1; f = 0; }
                int ix1 = Math.min(ix + 1, src.width - 1);
                for (int c = 0; c < 3; c++) {
                    float top = (s[(iy * src.width + ix) * 3 + c] & 0xff) * (1 - f) + (s[(iy * src.width + ix1) * 3 + c] & 0xff) * f;
                    float bot = (s[(iy1 * src.width + ix) * 3 + c] & 0xff) * (1 - f) + (s[(iy1 * src.width + ix1) * 3 + c] & 0xff) * f;
                    o[oi++] = (byte) Math.round(top * (1 - fy) + bot * fy);
                }
            }
        }
        return o;
    }
}
