import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.Locale;

/**
 * The MD5 arithmetic that decides "same content" against an S3-compatible store without
 * downloading anything: a file's MD5, the ETag a multipart upload gets, and ETag clean-up.
 */
public final class Checksums {
    private Checksums() {}

    public static boolean isMd5(String s) {
        return s != null && s.matches("[0-9a-f]{32}");
    }

    /** An ETag as stores send it ("W/\"abc\"") reduced to its lower-case value. */
    public static String unquote(String etag) {
        if (etag == null) return null;
        String e = etag.strip();
        if (e.startsWith("W/")) e = e.substring(2);
        if (e.length() >= 2 && e.startsWith("\"") && e.endsWith("\"")) e = e.substring(1, e.length() - 1);
        return e.toLowerCase(Locale.ROOT);
    }

    static MessageDigest newMd5() {
        try {
            return MessageDigest.getInstance("MD5");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    public static byte[] md5(byte[] b, int off, int len) {
        MessageDigest d = newMd5();
        d.update(b, off, len);
        return d.digest();
    }

    /** The MD5 of a file, hex. */
    public static String md5Hex(Path file) throws IOException {
        MessageDigest d = newMd5();
        byte[] buf = new byte[1 << 16];
        try (InputStream in = Files.newInputStream(file)) {
            for (int n; (n = in.read(buf)) > 0; ) d.update(buf, 0, n);
        }
        return HexFormat.of().formatHex(d.digest());
    }

    /** The ETag S3 gives a file uploaded in parts of {@code partSize}: md5(md5(part1)..md5(partN)) + "-N". */
    public static String multipartEtag(Path file, long partSize) throws IOException {
        long size = Files.size(file);
        int count = (int) Math.max(1, (size + partSize - 1) / partSize);
        MessageDigest all = newMd5();
        MessageDigest part = newMd5();
        byte[] buf = new byte[1 << 16];
        try (InputStream in = Files.newInputStream(file)) {
            for (int p = 0; p < count; p++) {
                long left = Math.min(partSize, size - p * partSize);
                while (left > 0) {
                    int n = in.read(buf, 0, (int) Math.min(buf.length, left));
                    if (n < 0) throw new IOException(file + " became shorter while being read");
                    part.update(buf, 0, n);
                    left -= n;
                }
                all.update(part.digest());
            }
        }
        return HexFormat.of().formatHex(all.digest()) + "-" + count;
    }
}
