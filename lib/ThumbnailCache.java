import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Small JPEG copies of images for the review page (its face crops and photo thumbnails), made once
 * and kept in one file. A page shows thousands of crops; decoding, shrinking and encoding each took
 * about 1.9 ms of CPU, four seconds of a 17,500-face matching run, and each photo far more (a photo
 * of a few megapixels takes tens of milliseconds to decode). Kept copies are read in one go.
 *
 * <p>A copy is found by the image's bytes ({@link #key}: their length and two checksums) and the
 * size it was shrunk to, so a crop that changes (a rescan rewrites them) never meets the copy of
 * its old bytes, and no copy can mix two archives up. The file is derived data: deleting it is
 * always safe, one cut short is read up to its last whole copy, and one that cannot be written
 * only costs time. It is rewritten whole (AtomicFiles.writeDerived, no flush to disk) when a page
 * made new copies: this page's copies first, then older ones up to {@link #MAX_BYTES}. (One file,
 * not a file per copy: creating thousands of small files cost more than making the copies on a
 * busy disk.)
 */
public final class ThumbnailCache {
    /** JPEG quality of the copies: crops at 112 px stay sharp, and the page small. */
    static final float QUALITY = 0.82f;
    /** Older copies beyond this many bytes are dropped when the file is rewritten (about 20,000 crops). */
    static final long MAX_BYTES = 64L << 20;
    private static final byte[] MAGIC = "kit-thumbnails-2\n".getBytes(StandardCharsets.US_ASCII);

    /** A kept copy: its JPEG bytes, and the width and height of the image it was made from (a photo's boxes are laid over it in those). */
    public record Copy(byte[] jpeg, int width, int height) {}

    private final Path file;
    private Map<String, Copy> before;
    private final Map<String, Copy> shown = new ConcurrentHashMap<>();
    private volatile boolean madeAny;

    private ThumbnailCache(Path file) {
        this.file = file;
    }

    /** The copies kept in {@code file} (none when it is missing or unreadable), read when first needed; null keeps nothing. */
    public static ThumbnailCache open(Path file) {
        return new ThumbnailCache(file);
    }

    /** The copies the file held, read once (a page without crops never reads it). */
    private synchronized Map<String, Copy> before() {
        if (before == null) before = file == null ? Map.of() : read(file);
        return before;
    }

    /** The image file shrunk to fit {@code maxSide} (upright, as Photos.decode turns it); null when it is missing or unreadable. */
    public Copy shrunk(Path image, int maxSide) {
        byte[] source;
        try {
            source = Files.readAllBytes(image);
        } catch (IOException e) {
            return null;
        }
        String key = key(source) + "-" + maxSide;
        Copy copy = shown.get(key);
        if (copy == null) copy = before().get(key);
        if (copy == null) {
            try {
                Photos.Image img = Photos.decode(source, image.getFileName().toString()).image();
                copy = new Copy(shrunk(img, maxSide), img.width, img.height);
            } catch (RuntimeException e) {
                return null; // the page shows a placeholder: it never breaks on one bad file
            }
            madeAny = true;
        }
        shown.put(key, copy);
        return copy;
    }

    /** Keeps the copies for the next page, when this one made any. Never fails: a cache that cannot be written only costs time. */
    public void save() {
        if (file == null || !madeAny) return;
        Map<String, Copy> keep = new LinkedHashMap<>(shown);
        long size = 0;
        for (Copy c : keep.values()) size += c.jpeg().length;
        for (Map.Entry<String, Copy> e : before().entrySet()) {
            if (size + e.getValue().jpeg().length > MAX_BYTES) break;
            if (keep.putIfAbsent(e.getKey(), e.getValue()) == null) size += e.getValue().jpeg().length;
        }
        try {
            AtomicFiles.writeDerived(file, encode(keep));
        } catch (IOException | RuntimeException e) {
            // made again next time
        }
    }

    /**
     * The name of an image's bytes: CRC-32C and CRC-32 (64 bits together) and the length. Two crops
     * the kit made are never that alike by chance (about one pair in 10^11 at 20,000 crops). The
     * processor computes these checksums itself; a SHA-256 of every crop cost a page at 17,500
     * faces a quarter to half a second.
     */
    static String key(byte[] bytes) {
        java.util.zip.CRC32C c = new java.util.zip.CRC32C();
        c.update(bytes);
        java.util.zip.CRC32 d = new java.util.zip.CRC32();
        d.update(bytes);
        String hex = Long.toHexString(c.getValue() << 32 | d.getValue());
        return "0".repeat(16 - hex.length()) + hex + "-" + bytes.length;
    }

    /** {@code img} shrunk to fit {@code maxSide} (never enlarged), as JPEG bytes. */
    public static byte[] shrunk(Photos.Image img, int maxSide) {
        return Photos.encodeJpeg(Photos.fitWithin(img, maxSide), QUALITY);
    }

    /** How many copies {@code file} holds whole (tests, and to say what a page found). */
    static int count(Path file) {
        return read(file).size();
    }

    // The file: MAGIC, then per copy: key length (2 bytes), key (ASCII), the image's width and height
    // (4 bytes each), the copy's length (4 bytes), the copy.

    private static Map<String, Copy> read(Path file) {
        Map<String, Copy> copies = new LinkedHashMap<>();
        byte[] all;
        try {
            if (!Files.isRegularFile(file)) return copies;
            all = Files.readAllBytes(file);
        } catch (IOException | OutOfMemoryError e) {
            return copies;
        }
        if (all.length < MAGIC.length || !Arrays.equals(all, 0, MAGIC.length, MAGIC, 0, MAGIC.length)) return copies;
        ByteBuffer b = ByteBuffer.wrap(all, MAGIC.length, all.length - MAGIC.length);
        while (b.remaining() >= 2) {
            int keyLength = b.getShort() & 0xffff;
            if (b.remaining() < keyLength + 12) break;
            byte[] key = new byte[keyLength];
            b.get(key);
            int width = b.getInt(), height = b.getInt(), length = b.getInt();
            if (width < 1 || height < 1 || length < 4 || length > b.remaining()) break;
            byte[] jpeg = new byte[length];
            b.get(jpeg);
            if (!wholeJpeg(jpeg)) break;
            copies.put(new String(key, StandardCharsets.US_ASCII), new Copy(jpeg, width, height));
        }
        return copies;
    }

    private static byte[] encode(Map<String, Copy> copies) {
        int size = MAGIC.length;
        for (Map.Entry<String, Copy> e : copies.entrySet()) size += 2 + e.getKey().length() + 12 + e.getValue().jpeg().length;
        ByteBuffer b = ByteBuffer.allocate(size);
        b.put(MAGIC);
        for (Map.Entry<String, Copy> e : copies.entrySet()) {
            byte[] key = e.getKey().getBytes(StandardCharsets.US_ASCII);
            Copy c = e.getValue();
            b.putShort((short) key.length).put(key).putInt(c.width()).putInt(c.height()).putInt(c.jpeg().length).put(c.jpeg());
        }
        return b.array();
    }

    /** Starts with SOI and ends with EOI: what a copy cut short is not. */
    private static boolean wholeJpeg(byte[] b) {
        int n = b.length;
        return n >= 4 && b[0] == (byte) 0xFF && b[1] == (byte) 0xD8 && b[n - 2] == (byte) 0xFF && b[n - 1] == (byte) 0xD9;
    }
}
