//DEPS com.twelvemonkeys.imageio:imageio-jpeg:3.12.0
//DEPS com.twelvemonkeys.imageio:imageio-tiff:3.12.0
//DEPS com.twelvemonkeys.imageio:imageio-bmp:3.12.0
//DEPS com.twelvemonkeys.imageio:imageio-webp:3.12.0
//DEPS com.drewnoakes:metadata-extractor:2.19.0
import com.drew.imaging.ImageMetadataReader;
import com.drew.lang.GeoLocation;
import com.drew.metadata.Metadata;
import com.drew.metadata.exif.ExifIFD0Directory;
import com.drew.metadata.exif.ExifSubIFDDirectory;
import com.drew.metadata.exif.GpsDirectory;
import java.awt.Color;
import java.awt.Graphics2D;
import java.awt.image.BufferedImage;
import java.awt.image.DataBufferByte;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import javax.imageio.IIOImage;
import javax.imageio.ImageIO;
import javax.imageio.ImageReader;
import javax.imageio.ImageWriteParam;
import javax.imageio.ImageWriter;
import javax.imageio.stream.ImageInputStream;
import javax.imageio.stream.ImageOutputStream;

/**
 * Photos as the face models see them: decoded to 8-bit BGR pixels (the order OpenCV and the
 * models' authors use) with the EXIF orientation applied, whatever the file held — grey,
 * CMYK, 16-bit, alpha (composited on white), JPEG, PNG, TIFF, BMP or WebP. Pure Java (ImageIO
 * with the TwelveMonkeys plugins, EXIF from metadata-extractor), so the same jar runs on every
 * platform with no native library to match.
 *
 * <p>Also: resizing (area-like when shrinking, bilinear otherwise), rotation by quarter turns,
 * crops, JPEG encoding and the content hash the archive uses to spot duplicates.
 */
public final class Photos {
    private Photos() {}

    /** An 8-bit BGR image, pixels row by row. */
    public static final class Image {
        public final int width, height;
        public final byte[] bgr;

        public Image(int width, int height, byte[] bgr) {
            if (bgr.length != width * height * 3) throw new IllegalArgumentException("pixel buffer does not match " + width + "x" + height);
            this.width = width;
            this.height = height;
            this.bgr = bgr;
        }

        public Image(int width, int height) {
            this(width, height, new byte[width * height * 3]);
        }

        /** Channel c (0 = B, 1 = G, 2 = R) at (x, y), 0..255. */
        public int at(int x, int y, int c) {
            return bgr[(y * width + x) * 3 + c] & 0xff;
        }
    }

    /** What the EXIF block says; null fields when absent. */
    public record Exif(String dateTaken, String camera, Double latitude, Double longitude, int orientation) {}

    public record Decoded(Image image, Exif exif, String format) {}

    /** Reads and decodes a photo file; a file that cannot be decoded is a KitException naming it and saying why. */
    public static Decoded decode(Path file) {
        byte[] bytes;
        try {
            bytes = Files.readAllBytes(file);
        } catch (IOException e) {
            throw new KitException("cannot read " + file + ": " + e.getMessage(), "check the file's permissions");
        }
        return decode(bytes, file.getFileName().toString());
    }

    public static Decoded decode(byte[] bytes, String name) {
        if (bytes.length == 0) throw new KitException(name + " is an empty file", "upload the photo again");
        if (isHeif(bytes)) {
            throw new KitException(name + " is a HEIC/HEIF photo (iPhone format), which the kit cannot decode",
                    "convert it to JPEG (e.g. heif-convert, or export from Photos as JPEG) and ingest it again");
        }
        BufferedImage img;
        String format;
        List<String> warnings = new ArrayList<>();
        try (ImageInputStream in = inMemory(withoutStandardSrgbProfile(bytes))) {
            Iterator<ImageReader> readers = ImageIO.getImageReaders(in);
            if (!readers.hasNext()) {
                throw new KitException(name + " is not a photo format the kit can read (" + sniff(bytes) + ")",
                        "save it as JPEG, PNG, TIFF, BMP or WebP and ingest it again");
            }
            ImageReader reader = readers.next();
            try {
                format = reader.getFormatName().toLowerCase(Locale.ROOT);
                reader.addIIOReadWarningListener((r, w) -> warnings.add(w));
                reader.setInput(in, true, true);
                img = reader.read(0);
            } finally {
                reader.dispose();
            }
        } catch (KitException e) {
            throw e;
        } catch (Exception | OutOfMemoryError e) {
            throw new KitException(name + " is damaged or unreadable (" + e.getClass().getSimpleName() + ": " + e.getMessage() + ")",
                    "open it in an image viewer; if it is broken, upload the original again");
        }
        for (String w : warnings) {
            String lw = w.toLowerCase(Locale.ROOT);
            // A truncated file decodes to a half-grey picture: never ingest that as if it were the photo.
            if (lw.contains("premature") || lw.contains("truncat") || lw.contains("end of")) {
                throw new KitException(name + " is damaged (" + w + ")", "upload the original photo again");
            }
        }
        if (img == null || img.getWidth() < 1 || img.getHeight() < 1) {
            throw new KitException(name + " holds no image", "upload the original photo again");
        }
        Exif exif = readExif(bytes);
        Image image = toBgr(img);
        image = orient(image, exif.orientation());
        return new Decoded(image, exif, format);
    }

    /**
     * The JPEG without its embedded colour profile when that profile is the standard one, "sRGB
     * IEC61966-2.1" (3,144 bytes, found by its length and CRC-32), which cameras, scanners and
     * image editors embed; any other file is returned as it is. With the profile, the JPEG reader
     * decodes to raw YCbCr, converts to RGB in Java and then runs a colour conversion from that
     * profile to the JDK's sRGB: pixels identical to the plain decode (checked by PhotosTest on
     * such a photo), at three times its cost warm and seven times in an ingest's cold JVM (a
     * 1366x768 photo: 150 ms against 20). Any other profile (Adobe RGB, wide-gamut scans) is kept:
     * its colours do change, and the crops the review shows must be sRGB.
     */
    static byte[] withoutStandardSrgbProfile(byte[] jpeg) {
        if (jpeg.length < 4 || (jpeg[0] & 0xff) != 0xFF || (jpeg[1] & 0xff) != 0xD8) return jpeg;
        int profileAt = -1, profileSegment = 0, profiles = 0;
        int i = 2;
        while (i + 4 <= jpeg.length && (jpeg[i] & 0xff) == 0xFF) {
            int marker = jpeg[i + 1] & 0xff;
            if (marker == 0xDA || marker == 0xD9 || marker == 0xFF || (marker >= 0xD0 && marker <= 0xD8) || marker == 0x01) break;
            int length = ((jpeg[i + 2] & 0xff) << 8) | (jpeg[i + 3] & 0xff);
            if (length < 2 || i + 2 + length > jpeg.length) return jpeg;
            if (marker == 0xE2 && length >= 16 && new String(jpeg, i + 4, 12, java.nio.charset.StandardCharsets.ISO_8859_1).equals("ICC_PROFILE\0")) {
                profiles++;
                profileAt = i;
                profileSegment = 2 + length;
            }
            i += 2 + length;
        }
        // One segment holding the whole profile (chunk 1 of 1), exactly the standard one.
        if (profiles != 1 || profileSegment - 18 != STANDARD_SRGB_LENGTH || jpeg[profileAt + 16] != 1 || jpeg[profileAt + 17] != 1) return jpeg;
        java.util.zip.CRC32 crc = new java.util.zip.CRC32();
        crc.update(jpeg, profileAt + 18, STANDARD_SRGB_LENGTH);
        if (crc.getValue() != STANDARD_SRGB_CRC32) return jpeg;
        byte[] out = new byte[jpeg.length - profileSegment];
        System.arraycopy(jpeg, 0, out, 0, profileAt);
        System.arraycopy(jpeg, profileAt + profileSegment, out, profileAt, jpeg.length - profileAt - profileSegment);
        return out;
    }

    static final int STANDARD_SRGB_LENGTH = 3144;
    static final long STANDARD_SRGB_CRC32 = 0x182ea552L;

    /** A picture's size in pixels. */
    public record Size(int width, int height) {
        public double megapixels() {
            return (double) width * height / 1e6;
        }
    }

    /**
     * The size the file's header declares for its (first) picture, read without decoding a
     * single pixel: a 605 KB PNG can declare 20000x10000 pixels, 3.4 GB once decoded. Null
     * when no reader knows the format or the header is unreadable ({@link #decode} then says why).
     */
    public static Size headerSize(byte[] bytes) {
        if (bytes.length == 0 || isHeif(bytes)) return null;
        try (ImageInputStream in = inMemory(bytes)) {
            Iterator<ImageReader> readers = ImageIO.getImageReaders(in);
            if (!readers.hasNext()) return null;
            ImageReader reader = readers.next();
            try {
                reader.setInput(in, true, true);
                return new Size(reader.getWidth(0), reader.getHeight(0));
            } finally {
                reader.dispose();
            }
        } catch (Exception e) {
            return null;
        }
    }

    /** HEIC/HEIF/AVIF: an ISO-BMFF "ftyp" box with an image brand. */
    static boolean isHeif(byte[] b) {
        if (b.length < 12 || b[4] != 'f' || b[5] != 't' || b[6] != 'y' || b[7] != 'p') return false;
        String brand = new String(b, 8, 4, java.nio.charset.StandardCharsets.US_ASCII);
        return List.of("heic", "heix", "hevc", "hevx", "heim", "heis", "mif1", "msf1", "avif").contains(brand);
    }

    private static String sniff(byte[] b) {
        if (b.length >= 3 && (b[0] & 0xff) == 0xFF && (b[1] & 0xff) == 0xD8) return "it starts like a JPEG but no decoder accepts it";
        StringBuilder sb = new StringBuilder("first bytes");
        for (int i = 0; i < Math.min(8, b.length); i++) sb.append(String.format(" %02x", b[i]));
        return sb.toString();
    }

    /** Any decoded image to 8-bit BGR; alpha is composited on white (old scans with transparency are paper). */
    static Image toBgr(BufferedImage img) {
        int w = img.getWidth(), h = img.getHeight();
        if (img.getType() == BufferedImage.TYPE_3BYTE_BGR && img.getRaster().getDataBuffer() instanceof DataBufferByte db
                && img.getRaster().getNumDataElements() == 3 && db.getData().length == w * h * 3) {
            return new Image(w, h, db.getData());
        }
        BufferedImage out = new BufferedImage(w, h, BufferedImage.TYPE_3BYTE_BGR);
        Graphics2D g = out.createGraphics();
        try {
            if (img.getColorModel().hasAlpha()) {
                g.setColor(Color.WHITE);
                g.fillRect(0, 0, w, h);
            }
            g.drawImage(img, 0, 0, null);
        } finally {
            g.dispose();
        }
        return new Image(w, h, ((DataBufferByte) out.getRaster().getDataBuffer()).getData());
    }

    static Exif readExif(byte[] bytes) {
        String date = null, camera = null;
        Double lat = null, lon = null;
        int orientation = 1;
        try {
            Metadata md = ImageMetadataReader.readMetadata(new ByteArrayInputStream(bytes), bytes.length);
            ExifIFD0Directory ifd0 = md.getFirstDirectoryOfType(ExifIFD0Directory.class);
            if (ifd0 != null) {
                if (ifd0.containsTag(ExifIFD0Directory.TAG_ORIENTATION)) orientation = ifd0.getInt(ExifIFD0Directory.TAG_ORIENTATION);
                String make = clean(ifd0.getString(ExifIFD0Directory.TAG_MAKE));
                String model = clean(ifd0.getString(ExifIFD0Directory.TAG_MODEL));
                if (model != null) camera = make != null && !model.toLowerCase(Locale.ROOT).startsWith(make.toLowerCase(Locale.ROOT).split(" ")[0]) ? make + " " + model : model;
                else camera = make;
                date = exifDate(ifd0.getString(ExifIFD0Directory.TAG_DATETIME));
            }
            ExifSubIFDDirectory sub = md.getFirstDirectoryOfType(ExifSubIFDDirectory.class);
            if (sub != null) {
                String original = exifDate(sub.getString(ExifSubIFDDirectory.TAG_DATETIME_ORIGINAL));
                if (original != null) date = original;
            }
            GpsDirectory gps = md.getFirstDirectoryOfType(GpsDirectory.class);
            if (gps != null) {
                GeoLocation loc = gps.getGeoLocation();
                if (loc != null && !loc.isZero()) {
                    lat = loc.getLatitude();
                    lon = loc.getLongitude();
                }
            }
        } catch (Exception e) {
            // Broken EXIF is common in scans; the picture itself is what matters.
        }
        return new Exif(date, camera, lat, lon, orientation);
    }

    private static String clean(String s) {
        if (s == null) return null;
        s = s.replace("\0", "").strip();
        return s.isEmpty() ? null : s;
    }

    /** "2019:07:04 18:30:00" -> "2019-07-04T18:30:00"; null when absent or blank ("0000:00:00 ..."). */
    static String exifDate(String s) {
        s = clean(s);
        if (s == null || s.startsWith("0000")) return null;
        if (s.matches("\\d{4}:\\d{2}:\\d{2} \\d{2}:\\d{2}:\\d{2}.*")) {
            return s.substring(0, 4) + "-" + s.substring(5, 7) + "-" + s.substring(8, 10) + "T" + s.substring(11, 19);
        }
        return s;
    }

    /** Applies an EXIF orientation (1-8) so that the image is upright as a viewer shows it. */
    public static Image orient(Image img, int orientation) {
        return switch (orientation) {
            case 2 -> flipH(img);
            case 3 -> rotate(img, 180);
            case 4 -> flipH(rotate(img, 180));
            case 5 -> flipH(rotate(img, 90));
            case 6 -> rotate(img, 90);
            case 7 -> flipH(rotate(img, 270));
            case 8 -> rotate(img, 270);
            default -> img;
        };
    }

    /** Rotates clockwise by 90, 180 or 270 degrees. */
    public static Image rotate(Image img, int degrees) {
        int w = img.width, h = img.height;
        int d = ((degrees % 360) + 360) % 360;
        if (d == 0) return img;
        Image out = d == 180 ? new Image(w, h) : new Image(h, w);
        byte[] s = img.bgr, o = out.bgr;
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                int nx, ny;
                if (d == 90) { nx = h - 1 - y; ny = x; }
                else if (d == 180) { nx = w - 1 - x; ny = h - 1 - y; }
                else { nx = y; ny = w - 1 - x; }
                int si = (y * w + x) * 3, oi = (ny * out.width + nx) * 3;
                o[oi] = s[si];
                o[oi + 1] = s[si + 1];
                o[oi + 2] = s[si + 2];
            }
        }
        return out;
    }

    /**
     * A box (x1,y1,x2,y2) found on the image turned clockwise by {@code rotation} degrees, in the
     * pixels of the unturned image of size w x h.
     */
    public static float[] unturnBox(float[] b, int rotation, int w, int h) {
        return switch (((rotation % 360) + 360) % 360) {
            case 90 -> new float[] {b[1], h - b[2], b[3], h - b[0]};
            case 180 -> new float[] {w - b[2], h - b[3], w - b[0], h - b[1]};
            case 270 -> new float[] {w - b[3], b[0], w - b[1], b[2]};
            default -> b.clone();
        };
    }

    static Image flipH(Image img) {
        Image out = new Image(img.width, img.height);
        for (int y = 0; y < img.height; y++) {
            for (int x = 0; x < img.width; x++) {
                System.arraycopy(img.bgr, (y * img.width + x) * 3, out.bgr, (y * img.width + img.width - 1 - x) * 3, 3);
            }
        }
        return out;
    }

    /**
     * Resizes to w x h. When shrinking by 2x or more, whole blocks are averaged first (like
     * OpenCV's INTER_AREA) so small faces are not lost to aliasing; then bilinear.
     */
    public static Image resize(Image src, int w, int h) {
        if (w == src.width && h == src.height) return src;
        int k = (int) Math.floor(Math.min((double) src.width / w, (double) src.height / h));
        if (k >= 2) src = shrinkByBlocks(src, k);
        return bilinear(src, w, h);
    }

    static Image shrinkByBlocks(Image src, int k) {
        int w = src.width / k, h = src.height / k;
        Image out = new Image(w, h);
        int[] acc = new int[w * 3];
        int area = k * k;
        for (int y = 0; y < h; y++) {
            java.util.Arrays.fill(acc, 0);
            for (int dy = 0; dy < k; dy++) {
                int row = (y * k + dy) * src.width * 3;
                for (int x = 0; x < w; x++) {
                    int p = row + x * k * 3;
                    int b = 0, g = 0, r = 0;
                    for (int dx = 0; dx < k; dx++, p += 3) {
                        b += src.bgr[p] & 0xff;
                        g += src.bgr[p + 1] & 0xff;
                        r += src.bgr[p + 2] & 0xff;
                    }
                    acc[x * 3] += b;
                    acc[x * 3 + 1] += g;
                    acc[x * 3 + 2] += r;
                }
            }
            int o = y * w * 3;
            for (int i = 0; i < w * 3; i++) out.bgr[o + i] = (byte) ((acc[i] + area / 2) / area);
        }
        return out;
    }

    /**
     * Math.round for a pixel value (0 to 2^23): what C1 makes of Math.round is a call per channel;
     * this is small enough to be inlined. When adding the half rounded the sum up to the next
     * integer, r - 0.5 (exact) is above v, and r goes back down: the same result as Math.round
     * for every float from 0 to 256, each one checked.
     */
    static int roundHalfUp(float v) {
        int r = (int) (v + 0.5f);
        return r - 0.5f > v ? r - 1 : r;
    }

    /** Bilinear resize with pixel centres aligned (OpenCV's convention). */
    static Image bilinear(Image src, int w, int h) {
        Image out = new Image(w, h);
        double sx = (double) src.width / w, sy = (double) src.height / h;
        int[] x0 = new int[w], x1 = new int[w];
        float[] fx = new float[w];
        for (int x = 0; x < w; x++) {
            double gx = (x + 0.5) * sx - 0.5;
            int ix = (int) Math.floor(gx);
            float f = (float) (gx - ix);
            if (ix < 0) { ix = 0; f = 0; }
            if (ix >= src.width - 1) { ix = src.width - 1; f = 0; }
            x0[x] = ix * 3;
            x1[x] = Math.min(ix + 1, src.width - 1) * 3;
            fx[x] = f;
        }
        byte[] s = src.bgr, o = out.bgr;
        for (int y = 0; y < h; y++) {
            double gy = (y + 0.5) * sy - 0.5;
            int iy = (int) Math.floor(gy);
            float fy = (float) (gy - iy);
            if (iy < 0) { iy = 0; fy = 0; }
            if (iy >= src.height - 1) { iy = src.height - 1; fy = 0; }
            int r0 = iy * src.width * 3, r1 = Math.min(iy + 1, src.height - 1) * src.width * 3;
            int oi = y * w * 3;
            float hy = 1 - fy;
            // The three channels written out, each index computed once: this loop runs as C1 compiles it
            // (no unrolling of its own), for every pixel of every photo and crop. Same arithmetic, same bits.
            for (int x = 0; x < w; x++, oi += 3) {
                float f = fx[x], g = 1 - f;
                int a = r0 + x0[x], b = r0 + x1[x], c = r1 + x0[x], d = r1 + x1[x];
                float top = (s[a] & 0xff) * g + (s[b] & 0xff) * f, bot = (s[c] & 0xff) * g + (s[d] & 0xff) * f;
                o[oi] = (byte) roundHalfUp(top * hy + bot * fy);
                top = (s[a + 1] & 0xff) * g + (s[b + 1] & 0xff) * f;
                bot = (s[c + 1] & 0xff) * g + (s[d + 1] & 0xff) * f;
                o[oi + 1] = (byte) roundHalfUp(top * hy + bot * fy);
                top = (s[a + 2] & 0xff) * g + (s[b + 2] & 0xff) * f;
                bot = (s[c + 2] & 0xff) * g + (s[d + 2] & 0xff) * f;
                o[oi + 2] = (byte) roundHalfUp(top * hy + bot * fy);
            }
        }
        return out;
    }

    /** The pixels inside [x1,x2) x [y1,y2), clamped to the image. */
    public static Image crop(Image img, int x1, int y1, int x2, int y2) {
        x1 = Math.max(0, x1);
        y1 = Math.max(0, y1);
        x2 = Math.min(img.width, x2);
        y2 = Math.min(img.height, y2);
        int w = Math.max(1, x2 - x1), h = Math.max(1, y2 - y1);
        Image out = new Image(w, h);
        for (int y = 0; y < h && y1 + y < img.height; y++) {
            System.arraycopy(img.bgr, ((y1 + y) * img.width + x1) * 3, out.bgr, y * w * 3, Math.min(w, img.width - x1) * 3);
        }
        return out;
    }

    /** The face crop saved next to the photo: the box with a margin, at most {@code maxSide} pixels. */
    public static Image faceCrop(Image img, float[] box, double margin, int maxSide) {
        float bw = box[2] - box[0], bh = box[3] - box[1];
        int x1 = Math.round(box[0] - bw * (float) margin), y1 = Math.round(box[1] - bh * (float) margin);
        int x2 = Math.round(box[2] + bw * (float) margin), y2 = Math.round(box[3] + bh * (float) margin);
        return fitWithin(crop(img, x1, y1, x2, y2), maxSide);
    }

    /** {@code img} shrunk to at most {@code maxSide} pixels on its longer side, keeping its shape; never enlarged. */
    public static Image fitWithin(Image img, int maxSide) {
        int side = Math.max(img.width, img.height);
        if (side <= maxSide) return img;
        double s = (double) maxSide / side;
        return resize(img, Math.max(1, (int) Math.round(img.width * s)), Math.max(1, (int) Math.round(img.height * s)));
    }

    public static BufferedImage toBufferedImage(Image img) {
        BufferedImage out = new BufferedImage(img.width, img.height, BufferedImage.TYPE_3BYTE_BGR);
        System.arraycopy(img.bgr, 0, ((DataBufferByte) out.getRaster().getDataBuffer()).getData(), 0, img.bgr.length);
        return out;
    }

    /**
     * An image stream over bytes already in memory. (ImageIO's own choice for a stream is a temporary
     * file, created, written and deleted for every image read or written: a third of the time of a
     * review page's thousands of crops, and it fails where the temporary folder cannot be written.)
     */
    static ImageInputStream inMemory(byte[] bytes) {
        return new javax.imageio.stream.MemoryCacheImageInputStream(new ByteArrayInputStream(bytes));
    }

    public static byte[] encodeJpeg(Image img, float quality) {
        return encodeJpeg(toBufferedImage(img), quality);
    }

    public static byte[] encodeJpeg(BufferedImage img, float quality) {
        ImageWriter writer = ImageIO.getImageWritersByFormatName("jpeg").next();
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (ImageOutputStream out = new javax.imageio.stream.MemoryCacheImageOutputStream(bytes)) {
            writer.setOutput(out);
            ImageWriteParam p = writer.getDefaultWriteParam();
            p.setCompressionMode(ImageWriteParam.MODE_EXPLICIT);
            p.setCompressionQuality(quality);
            writer.write(null, new IIOImage(img, null, null), p);
        } catch (IOException e) {
            throw new IllegalStateException("JPEG encoding failed", e);
        } finally {
            writer.dispose();
        }
        return bytes.toByteArray();
    }

    public static byte[] encodePng(Image img) {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (ImageOutputStream out = new javax.imageio.stream.MemoryCacheImageOutputStream(bytes)) {
            ImageIO.write(toBufferedImage(img), "png", out);
        } catch (IOException e) {
            throw new IllegalStateException("PNG encoding failed", e);
        }
        return bytes.toByteArray();
    }

    /** sha256 of the file's bytes, hex: the same photo uploaded twice has the same hash. */
    public static String contentHash(byte[] bytes) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** File names the ingest treats as photos (anything else in an upload folder is reported, not decoded). */
    public static boolean looksLikePhoto(String name) {
        String n = name.toLowerCase(Locale.ROOT);
        return n.endsWith(".jpg") || n.endsWith(".jpeg") || n.endsWith(".png") || n.endsWith(".tif") || n.endsWith(".tiff")
                || n.endsWith(".bmp") || n.endsWith(".webp") || n.endsWith(".heic") || n.endsWith(".heif") || n.endsWith(".gif")
                || n.endsWith(".jfif") || n.endsWith(".avif");
    }
}
