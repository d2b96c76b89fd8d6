import static org.junit.jupiter.api.Assertions.*;

import java.io.ByteArrayInputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.Random;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;

/** The pixel arithmetic shared by face detection, crops and the review page: sped up, never changed. */
class PhotosTest {
    /**
     * A JPEG carrying the standard sRGB profile is decoded without it, to the same pixels; any
     * other profile is kept and applied. eval/group-photos has one of each: bbt1.jpg carries
     * "sRGB IEC61966-2.1", bbt5.jpg "Adobe RGB (1998)".
     */
    @Test
    void theStandardSrgbProfileIsLeftOutOfTheDecodeAndTheColoursAreTheSame() throws Exception {
        FaceModelsTest.assumeEval();
        byte[] srgb = Files.readAllBytes(FaceModelsTest.EVAL.resolve("group-photos/bbt1.jpg"));
        byte[] adobe = Files.readAllBytes(FaceModelsTest.EVAL.resolve("group-photos/bbt5.jpg"));

        byte[] without = Photos.withoutStandardSrgbProfile(srgb);
        int at = indexOf(srgb, "ICC_PROFILE") - 4;
        assertEquals(srgb.length - (2 + 2 + 14 + Photos.STANDARD_SRGB_LENGTH), without.length, "its one APP2 segment left out");
        assertEquals(-1, indexOf(without, "ICC_PROFILE"));
        // The reference: the JPEG reader given the whole file, colour conversion included.
        assertArrayEquals(Photos.toBgr(ImageIO.read(new ByteArrayInputStream(srgb))).bgr, Photos.decode(srgb, "bbt1.jpg").image().bgr,
                "the same pixels as with the profile applied");

        assertSame(adobe, Photos.withoutStandardSrgbProfile(adobe), "another profile is kept");
        byte[] adobePixels = Photos.decode(adobe, "bbt5.jpg").image().bgr;
        assertArrayEquals(Photos.toBgr(ImageIO.read(new ByteArrayInputStream(adobe))).bgr, adobePixels);
        assertFalse(java.util.Arrays.equals(Photos.toBgr(ImageIO.read(new ByteArrayInputStream(stripProfile(adobe)))).bgr, adobePixels),
                "and it changes the colours, so it must stay");

        byte[] changed = srgb.clone();
        changed[at + 18 + 1000] ^= 1;
        assertSame(changed, Photos.withoutStandardSrgbProfile(changed), "a profile one byte away from the standard one is kept");
        byte[] cut = java.util.Arrays.copyOf(srgb, at + 100);
        assertSame(cut, Photos.withoutStandardSrgbProfile(cut), "a file cut inside the profile is left to the decoder to report");
    }

    static int indexOf(byte[] b, String s) {
        byte[] n = s.getBytes(StandardCharsets.ISO_8859_1);
        outer:
        for (int i = 0; i + n.length <= b.length; i++) {
            for (int j = 0; j < n.length; j++) if (b[i + j] != n[j]) continue outer;
            return i;
        }
        return -1;
    }

    /** The file without its (one-segment) ICC profile, whatever the profile. */
    static byte[] stripProfile(byte[] jpeg) {
        int at = indexOf(jpeg, "ICC_PROFILE") - 4;
        int len = 2 + (((jpeg[at + 2] & 0xff) << 8) | (jpeg[at + 3] & 0xff));
        byte[] out = new byte[jpeg.length - len];
        System.arraycopy(jpeg, 0, out, 0, at);
        System.arraycopy(jpeg, at + len, out, at, jpeg.length - at - len);
        return out;
    }

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
