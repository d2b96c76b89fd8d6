import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

/**
 * Local files' MD5s, remembered with the size and modification time they had when hashed (as
 * rsync and rclone decide "unchanged"): a photo rewritten in any way gets a new time and is
 * hashed again. For files sent in parts it also remembers the multipart ETag (the MD5 of the
 * parts' MD5s, "-N"), which is what the bucket listing shows for them. It is only a cache
 * (.kit/upload-md5-cache.json): a missing or unreadable file just means hashing again, and a
 * failure to write it only costs hashing next time. A {@link #readOnly} cache (a dry run's) never
 * writes its file.
 */
public final class Md5Cache {
    public static final String FILE = "upload-md5-cache.json";

    record Stamp(long size, long mtimeNanos) {}

    /** What is known of one file at one stamp: its MD5 and/or its multipart ETag for {@code partSize} (null: not known). */
    private record Entry(Stamp stamp, String md5, String multipartEtag, long partSize) {}

    private final Path file;
    private final boolean write;
    private final Map<String, Entry> entries = new ConcurrentHashMap<>();
    private volatile boolean dirty;

    private Md5Cache(Path file, boolean write) {
        this.file = file;
        this.write = write && file != null;
        if (file == null || !Files.isRegularFile(file)) return;
        try {
            var doc = JsonFiles.read(file);
            doc.path("files").fields().forEachRemaining(e -> {
                var v = e.getValue();
                String md5 = v.path("md5").asText(null);
                String etag = v.path("multipart_etag").asText(null);
                if (md5 != null && !Checksums.isMd5(md5)) md5 = null;
                if (etag != null && !Checksums.isMultipartEtag(etag)) etag = null;
                if (md5 != null || etag != null) {
                    entries.put(e.getKey(), new Entry(new Stamp(v.path("size").asLong(-1), v.path("mtime_ns").asLong(-1)), md5, etag,
                            v.path("part_size").asLong(0)));
                }
            });
        } catch (IOException | RuntimeException e) {
            entries.clear(); // a damaged cache is ignored and rebuilt
        }
    }

    /** The cache kept in {@code file}; null keeps nothing (every MD5 is computed). */
    public static Md5Cache at(Path file) {
        return new Md5Cache(file, true);
    }

    /** The cache in {@code file}, read but never written (a dry run changes nothing). */
    public static Md5Cache readOnly(Path file) {
        return new Md5Cache(file, false);
    }

    /** No cache: every MD5 is computed. */
    public static Md5Cache none() {
        return new Md5Cache(null, false);
    }

    static Stamp stamp(Path f) throws IOException {
        var attrs = Files.readAttributes(f, BasicFileAttributes.class);
        return new Stamp(attrs.size(), attrs.lastModifiedTime().to(TimeUnit.NANOSECONDS));
    }

    private Entry current(Path f, Stamp now) {
        Entry e = entries.get(key(f));
        return e != null && e.stamp().equals(now) ? e : null;
    }

    /** The file's MD5 (hex): remembered if size and time still match, else computed and remembered. */
    String md5(Path f) throws IOException {
        Stamp before = stamp(f);
        Entry e = current(f, before);
        if (e != null && e.md5() != null) return e.md5();
        String md5 = Checksums.md5Hex(f);
        remember(f, before, md5);
        return md5;
    }

    /**
     * The ETag the file gets when sent in parts of {@code partSize}: remembered if size and time still
     * match, else computed (one pass, which gives the whole file's MD5 too) and remembered.
     */
    String multipartEtag(Path f, long partSize) throws IOException {
        Stamp before = stamp(f);
        Entry e = current(f, before);
        if (e != null && e.multipartEtag() != null && e.partSize() == partSize) return e.multipartEtag();
        Checksums.PartSums sums = Checksums.partSums(f, partSize);
        put(f, before, sums.md5(), sums.multipartEtag(), partSize);
        return sums.multipartEtag();
    }

    void remember(Path f, Stamp stamp, String md5) {
        put(f, stamp, md5, null, 0);
    }

    void rememberMultipart(Path f, Stamp stamp, String multipartEtag, long partSize) {
        put(f, stamp, null, multipartEtag, partSize);
    }

    /** Adds to what is known at this stamp (an older stamp's knowledge is dropped). */
    private void put(Path f, Stamp stamp, String md5, String etag, long partSize) {
        if (file == null) return;
        entries.compute(key(f), (k, old) -> {
            if (old == null || !old.stamp().equals(stamp)) return new Entry(stamp, md5, etag, etag == null ? 0 : partSize);
            return new Entry(stamp, md5 != null ? md5 : old.md5(), etag != null ? etag : old.multipartEtag(),
                    etag != null ? partSize : old.partSize());
        });
        dirty = true;
    }

    private static String key(Path f) {
        return f.toAbsolutePath().normalize().toString();
    }

    /** Writes the cache if it changed (never a read-only one). */
    void save() {
        if (!write || !dirty) return;
        var doc = JsonFiles.object();
        doc.put("about", "MD5s of local files by size and modification time, kept by the upload step; safe to delete");
        var files = doc.putObject("files");
        entries.keySet().removeIf(k -> !Files.exists(Path.of(k))); // photos moved or deleted since
        new TreeMap<>(entries).forEach((k, e) -> {
            var o = files.putObject(k).put("size", e.stamp().size()).put("mtime_ns", e.stamp().mtimeNanos());
            if (e.md5() != null) o.put("md5", e.md5());
            if (e.multipartEtag() != null) o.put("multipart_etag", e.multipartEtag()).put("part_size", e.partSize());
        });
        try {
            Files.createDirectories(file.getParent());
            JsonFiles.write(file, doc);
            dirty = false;
        } catch (IOException e) {
            // only a cache
        }
    }
}
