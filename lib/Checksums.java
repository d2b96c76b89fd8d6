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
        if (s == null || s.length() != 32) return false;
        for (int i = 0; i < 32; i++) {
            char c = s.charAt(i);
            if (!(c >= '0' && c <= '9' || c >= 'a' && c <= 'f')) return false;
        }
        return true;
    }

    /** An S3 multipart ETag: 32 hex digits, "-", the number of parts. */
    public static boolean isMultipartEtag(String s) {
        return s != null && s.length() >= 34 && s.charAt(32) == '-' && isMd5(s.substring(0, 32)) && s.substring(33).matches("[1-9][0-9]{0,4}");
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

    /** A file's MD5 and the ETag it gets when sent in parts of {@code partSize}: both from one read. */
    public record PartSums(String md5, String multipartEtag) {}

    /** The ETag S3 gives a file uploaded in parts of {@code partSize}: md5(md5(part1)..md5(partN)) + "-N". */
    public static String multipartEtag(Path file, long partSize) throws IOException {
        return partSums(file, partSize).multipartEtag();
    }

    /** The multipart ETag of parts whose MD5s (raw, in part order) are {@code partMd5s}. */
    public static String multipartEtag(java.util.List<byte[]> partMd5s) {
        MessageDigest all = newMd5();
        for (byte[] m : partMd5s) all.update(m);
        return HexFormat.of().formatHex(all.digest()) + "-" + partMd5s.size();
    }

    /** The whole file's MD5 and its multipart ETag for {@code partSize}, reading the file once. */
    public static PartSums partSums(Path file, long partSize) throws IOException {
        long size = Files.size(file);
        int count = (int) Math.max(1, (size + partSize - 1) / partSize);
        MessageDigest whole = newMd5();
        MessageDigest part = newMd5();
        java.util.List<byte[]> parts = new java.util.ArrayList<>(count);
        byte[] buf = new byte[1 << 16];
        try (InputStream in = Files.newInputStream(file)) {
            for (int p = 0; p < count; p++) {
                long left = Math.min(partSize, size - p * partSize);
                while (left > 0) {
                    int n = in.read(buf, 0, (int) Math.min(buf.length, left));
                    if (n < 0) throw new IOException(file + " became shorter while being read");
                    part.update(buf, 0, n);
                    whole.update(buf, 0, n);
                    left -= n;
                }
                parts.add(part.digest());
            }
        }
        return new PartSums(HexFormat.of().formatHex(whole.digest()), multipartEtag(parts));
    }
}
