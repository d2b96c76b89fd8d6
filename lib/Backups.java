import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.LocalDateTime;
import java.time.ZoneId;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * Backups of the archive's documents in {@code data/backups/}, named exactly as admins know
 * them: {@code identities.json.YYYYMMDD-HHMMSS.bak} and {@code photo_index.json.YYYYMMDD-HHMMSS.bak},
 * plain byte-for-byte copies so that restoring by hand is a {@code cp}. Both files of one
 * backup share its timestamp (its "label"); hand-made copies such as
 * {@code identities.json.manual.bak} are listed under their own label.
 */
public final class Backups {
    public static final DateTimeFormatter STAMP = DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss");
    private static final Pattern NAME = Pattern.compile("^(identities\\.json|photo_index\\.json)\\.(.+)\\.bak$");
    private static final Pattern TIMESTAMP = Pattern.compile("\\d{8}-\\d{6}");

    /** One backup: its label and the file of each document it holds (absent ones are null). */
    public record Backup(String label, Path identities, Path photoIndex, long sortKey) {
        public List<Path> files() {
            List<Path> out = new ArrayList<>();
            if (identities != null) out.add(identities);
            if (photoIndex != null) out.add(photoIndex);
            return out;
        }
    }

    private final Path dataDir;
    private final Path dir;

    public Backups(Path dataDir) {
        this.dataDir = dataDir;
        this.dir = dataDir.resolve("backups");
    }

    public Path folder() {
        return dir;
    }

    /**
     * Copies identities.json and photo_index.json (those that exist) into a new backup.
     * A timestamp already used (a second backup within the same second) is never reused:
     * the backup waits for the next free second instead, so no earlier backup is overwritten.
     *
     * @return the new backup, or null when there was nothing to back up (an empty archive)
     */
    public Backup create() throws IOException {
        List<String> present = new ArrayList<>();
        for (String n : ArchiveFiles.NAMES) if (Files.isRegularFile(dataDir.resolve(n))) present.add(n);
        if (present.isEmpty()) return null;
        Files.createDirectories(dir);
        for (int attempt = 0; attempt < 50; attempt++) {
            String label = LocalDateTime.now().format(STAMP);
            boolean taken = false;
            for (String n : ArchiveFiles.NAMES) taken |= Files.exists(dir.resolve(n + "." + label + ".bak"));
            if (taken) {
                sleepToNextSecond();
                continue;
            }
            try {
                for (String n : present) AtomicFiles.copy(dataDir.resolve(n), dir.resolve(n + "." + label + ".bak"), false);
            } catch (java.nio.file.FileAlreadyExistsException race) {
                sleepToNextSecond();  // another process took this second between our check and our copy
                continue;
            }
            return find(label);
        }
        throw new IOException("could not find a free backup timestamp in " + dir);
    }

    private static void sleepToNextSecond() {
        try {
            Thread.sleep(1000 - (System.currentTimeMillis() % 1000) + 5);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** Every backup, newest first. */
    public List<Backup> list() throws IOException {
        if (!Files.isDirectory(dir)) return List.of();
        Map<String, Path[]> byLabel = new LinkedHashMap<>();
        try (Stream<Path> s = Files.list(dir)) {
            for (Path p : (Iterable<Path>) s::iterator) {
                Matcher m = NAME.matcher(p.getFileName().toString());
                if (!m.matches() || !Files.isRegularFile(p)) continue;
                Path[] pair = byLabel.computeIfAbsent(m.group(2), k -> new Path[2]);
                pair[m.group(1).equals(ArchiveFiles.IDENTITIES) ? 0 : 1] = p;
            }
        }
        List<Backup> out = new ArrayList<>();
        for (var e : byLabel.entrySet()) out.add(new Backup(e.getKey(), e.getValue()[0], e.getValue()[1], sortKey(e.getKey(), e.getValue())));
        out.sort(Comparator.comparingLong(Backup::sortKey).reversed().thenComparing(Backup::label, Comparator.reverseOrder()));
        return out;
    }

    /** Timestamped backups sort by their name's time; hand-made ones by the files' modification time. */
    private static long sortKey(String label, Path[] files) throws IOException {
        if (TIMESTAMP.matcher(label).matches()) {
            return LocalDateTime.parse(label, STAMP).atZone(ZoneId.systemDefault()).toInstant().toEpochMilli();
        }
        long t = 0;
        for (Path p : files) if (p != null) t = Math.max(t, Files.getLastModifiedTime(p).toMillis());
        return t;
    }

    /** The backup with this label, or null. */
    public Backup find(String label) throws IOException {
        for (Backup b : list()) if (b.label().equals(label)) return b;
        return null;
    }

    /**
     * Parses every file of a backup and checks it is the right kind of document.
     * @return "N identities" / "N photos" counts, or throws a KitException saying what is wrong
     */
    public static int[] verify(Backup b) {
        int[] counts = {-1, -1};
        if (b.identities() != null) {
            JsonNode doc = parse(b.identities());
            ArchiveFiles.checkIdentities(doc, b.identities().toString());
            counts[0] = ArchiveFiles.identityCount(doc);
        }
        if (b.photoIndex() != null) {
            JsonNode doc = parse(b.photoIndex());
            ArchiveFiles.checkPhotoIndex(doc, b.photoIndex().toString());
            counts[1] = ArchiveFiles.photoCount(doc);
        }
        return counts;
    }

    /** A backup that does not parse as the right documents, and why. */
    public record Skipped(String label, String problem) {}

    /** The newest good backup (null when there is none) and the newer ones passed over because they are not good. */
    public record Latest(Backup backup, int[] counts, List<Skipped> skipped) {}

    /**
     * The newest backup whose every file parses as the right kind of document. A backup made
     * of a damaged file (backup copies whatever it finds) is never the answer while a good
     * one exists; each one passed over is named with its problem.
     */
    public Latest latestValid() throws IOException {
        List<Skipped> skipped = new ArrayList<>();
        for (Backup b : list()) {
            try {
                return new Latest(b, verify(b), skipped);
            } catch (KitException e) {
                skipped.add(new Skipped(b.label(), e.getMessage()));
            }
        }
        return new Latest(null, new int[] {-1, -1}, skipped);
    }

    private static JsonNode parse(Path p) {
        try {
            return JsonFiles.read(p);
        } catch (IOException e) {
            throw new KitException("cannot read " + p + ": " + e.getMessage());
        }
    }

    /** Copies the backup's files back over the live ones, byte for byte, atomically. */
    public void restoreFiles(Backup b) throws IOException {
        if (b.identities() != null) AtomicFiles.copy(b.identities(), dataDir.resolve(ArchiveFiles.IDENTITIES), true);
        if (b.photoIndex() != null) AtomicFiles.copy(b.photoIndex(), dataDir.resolve(ArchiveFiles.PHOTO_INDEX), true);
    }
}
