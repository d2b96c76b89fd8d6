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
 * hashed again. It is only a cache (.kit/upload-md5-cache.json): a missing or unreadable file
 * just means hashing again, and a failure to write it only costs hashing next time.
 */
public final class Md5Cache {
    public static final String FILE = "upload-md5-cache.json";

    record Stamp(long size, long mtimeNanos) {}

    private record Entry(Stamp stamp, String md5) {}

    private final Path file;
    private final Map<String, Entry> entries = new ConcurrentHashMap<>();
    private volatile boolean dirty;

    /** The cache kept in {@code file}; null keeps nothing (every MD5 is computed). */
    public Md5Cache(Path file) {
        this.file = file;
        if (file == null || !Files.isRegularFile(file)) return;
        try {
            var doc = JsonFiles.read(file);
            doc.path("files").fields().forEachRemaining(e -> {
                var v = e.getValue();
                if (Checksums.isMd5(v.path("md5").asText())) {
                    entries.put(e.getKey(), new Entry(new Stamp(v.path("size").asLong(-1), v.path("mtime_ns").asLong(-1)), v.path("md5").asText()));
                }
            });
        } catch (IOException | RuntimeException e) {
            entries.clear(); // a damaged cache is ignored and rebuilt
        }
    }

    static Stamp stamp(Path f) throws IOException {
        var attrs = Files.readAttributes(f, BasicFileAttributes.class);
        return new Stamp(attrs.size(), attrs.lastModifiedTime().to(TimeUnit.NANOSECONDS));
    }

    /** The file's MD5 (hex): remembered if size and time still match, else computed and remembered. */
    String md5(Path f) throws IOException {
        Stamp before = stamp(f);
        Entry e = entries.get(key(f));
        if (e != null && e.stamp().equals(before)) return e.md5();
        String md5 = Checksums.md5Hex(f);
        remember(f, before, md5);
        return md5;
    }

    void remember(Path f, Stamp stamp, String md5) {
        if (file == null) return;
        entries.put(key(f), new Entry(stamp, md5));
        dirty = true;
    }

    private static String key(Path f) {
        return f.toAbsolutePath().normalize().toString();
    }

    /** Writes the cache if it changed. */
    void save() {
        if (file == null || !dirty) return;
        var doc = JsonFiles.object();
        doc.put("about", "MD5s of local files by size and modification time, kept by the upload step; safe to delete");
        var files = doc.putObject("files");
        entries.keySet().removeIf(k -> !Files.exists(Path.of(k))); // photos moved or deleted since
        new TreeMap<>(entries).forEach((k, e) -> files.putObject(k)
                .put("size", e.stamp().size()).put("mtime_ns", e.stamp().mtimeNanos()).put("md5", e.md5()));
        try {
            Files.createDirectories(file.getParent());
            JsonFiles.write(file, doc);
            dirty = false;
        } catch (IOException e) {
            // only a cache
        }
    }
}
