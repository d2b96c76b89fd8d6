import static org.junit.jupiter.api.Assertions.*;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.ByteArrayOutputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;
import java.util.zip.CRC32;
import java.util.zip.Deflater;
import java.util.zip.DeflaterOutputStream;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The ingest as a user runs it ({@code ./jbang ingest ...} in its own process) when the world
 * is not kind: a dry run, a broken identities.json, a photo with far too many pixels, folders
 * the kit may not write in (issue 10's ingest dry run; issue 11 items 5, 8, 9a, 9b).
 */
class IngestSafetyTest {
    static final Path EVAL = FaceModelsTest.EVAL;

    static String[] args(Path dir, Path upload, String job, String... more) {
        List<String> a = new ArrayList<>(List.of("--directory", upload.toString(), "--job-id", job,
                "--data-dir", dir.resolve("data").toString(), "--photos-dir", dir.resolve("raw_photos").toString(),
                "--crops-dir", dir.resolve("raw_photos/crops").toString()));
        a.addAll(List.of(more));
        return a.toArray(String[]::new);
    }

    static Path upload(Path dir, String job, String... evalPhotos) throws IOException {
        Path up = Files.createDirectories(dir.resolve("pending/" + job));
        for (String n : evalPhotos) Files.copy(EVAL.resolve("group-photos/" + n), up.resolve(n));
        return up;
    }

    /** Every file under {@code root} (relative path → sha256 of its bytes): what "nothing changed" is checked against. */
    static Map<String, String> everyFile(Path root) throws IOException {
        Map<String, String> out = new TreeMap<>();
        try (Stream<Path> s = Files.walk(root)) {
            for (Path p : s.toList()) {
                if (Files.isRegularFile(p)) out.put(root.relativize(p).toString(), Photos.contentHash(Files.readAllBytes(p)));
                else if (Files.isDirectory(p)) out.put(root.relativize(p) + "/", "folder");
            }
        }
        return out;
    }

    @Test
    void aDryRunSaysPerPhotoWhatItWouldAddAndChangesNothing(@TempDir Path dir) throws Exception {
        FaceModelsTest.assumeEval();
        KitProcess.Result first = KitProcess.run("steps/ingest_inbox.java", args(dir, upload(dir, "job-1", "bbt2.jpg"), "job-1"));
        assertEquals(0, first.exitCode(), first.all());
        Path up = upload(dir, "job-2", "bbt3.jpg");
        Files.copy(EVAL.resolve("group-photos/bbt2.jpg"), up.resolve("copy of bbt2.jpg"));
        byte[] jpeg = Files.readAllBytes(EVAL.resolve("group-photos/bbt4.jpg"));
        Files.write(up.resolve("broken.jpg"), java.util.Arrays.copyOf(jpeg, jpeg.length / 3));
        Map<String, String> before = everyFile(dir);

        KitProcess.Result dry = KitProcess.run("steps/ingest_inbox.java", args(dir, up, "job-2", "--dry-run"));

        assertEquals(0, dry.exitCode(), dry.all());
        assertEquals(before, everyFile(dir), "a dry run leaves data/, raw_photos/, the crops and the store byte-identical");
        String text = dry.all();
        assertTrue(text.contains("add        bbt3.jpg: 5 faces -> bbt3.jpg"), text);
        assertTrue(text.matches("(?s).*duplicate  copy of bbt2.jpg: already photo [0-9a-f]{16}.*"), text);
        assertTrue(text.contains("refused    broken.jpg: broken.jpg is damaged"), text);
        assertTrue(text.contains("Would add 1 photo(s) with 5 face(s); 1 duplicate(s); 1 file(s) cannot be added."), text);
        assertTrue(text.contains("Dry run: nothing was changed"), text);
    }

    /** Issue 11 item 5: a broken identities.json was found only after photos, crops and photo_index.json were written. */
    @Test
    void aBrokenIdentitiesFileStopsTheIngestBeforeItWritesAnything(@TempDir Path dir) throws Exception {
        FaceModelsTest.assumeEval();
        KitProcess.Result first = KitProcess.run("steps/ingest_inbox.java", args(dir, upload(dir, "job-1", "bbt2.jpg"), "job-1"));
        assertEquals(0, first.exitCode(), first.all());
        Files.writeString(dir.resolve("data/identities.json"), "{\"schema_version\": 1, \"identities\": {\"a\": ");
        Path up = upload(dir, "job-2", "bbt3.jpg", "bbt4.jpg");
        Map<String, String> before = everyFile(dir);

        KitProcess.Result r = KitProcess.run("steps/ingest_inbox.java", args(dir, up, "job-2"));

        assertEquals(1, r.exitCode(), r.all());
        assertTrue(r.stderr().contains("identities.json is not valid JSON"), r.all());
        assertTrue(r.stderr().contains("./jbang restore"), "says what to do: " + r.all());
        assertEquals(before, everyFile(dir), "no photo, crop, vector or photo_index.json entry was written");
    }

    @Test
    void withSeveralArchiveFilesBrokenTheProblemsAreSaidOneAtATimeIdentitiesFirst(@TempDir Path dir) throws Exception {
        FaceModelsTest.assumeEval();
        Path data = Files.createDirectories(dir.resolve("data/embeddings"));
        Files.writeString(dir.resolve("data/identities.json"), "{\"identities\": ");
        Files.writeString(dir.resolve("data/photo_index.json"), "{\"photos\": ");
        Files.writeString(data.resolve("manifest.json"), "{\"segments\": ");
        Path up = upload(dir, "job-b", "bbt2.jpg");
        Map<String, String> before = everyFile(dir);
        // Read side by side, said in the order they always were: identities.json, photo_index.json, the store.
        for (String broken : List.of("identities.json", "photo_index.json", "embeddings/manifest.json")) {
            KitProcess.Result r = KitProcess.run("steps/ingest_inbox.java", args(dir, up, "job-b"));
            assertEquals(1, r.exitCode(), r.all());
            assertTrue(r.stderr().contains(dir.resolve("data").resolve(broken) + " is not valid JSON"), broken + " is named: " + r.all());
            assertEquals(before, everyFile(dir), "nothing was written");
            Files.writeString(dir.resolve("data").resolve(broken), broken.startsWith("identities") ? "{\"identities\": {}}"
                    : broken.startsWith("photo") ? "{\"photos\": {}}" : "{\"segments\": []}");
            before = everyFile(dir);
        }
    }

    /**
     * A PNG of width x height black RGB pixels, a few hundred KB on disk whatever its size in
     * pixels (written row by row, never held in memory).
     */
    static void writeHugePng(Path file, int width, int height) throws IOException {
        try (OutputStream raw = Files.newOutputStream(file); DataOutputStream out = new DataOutputStream(raw)) {
            out.write(new byte[] {(byte) 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'});
            ByteArrayOutputStream ihdr = new ByteArrayOutputStream();
            DataOutputStream h = new DataOutputStream(ihdr);
            h.writeInt(width);
            h.writeInt(height);
            h.write(new byte[] {8, 2, 0, 0, 0}); // 8 bits, RGB, deflate, no filter, no interlace
            chunk(out, "IHDR", ihdr.toByteArray());
            ByteArrayOutputStream idat = new ByteArrayOutputStream();
            try (DeflaterOutputStream z = new DeflaterOutputStream(idat, new Deflater(9))) {
                byte[] row = new byte[1 + width * 3];
                for (int y = 0; y < height; y++) z.write(row);
            }
            chunk(out, "IDAT", idat.toByteArray());
            chunk(out, "IEND", new byte[0]);
        }
    }

    private static void chunk(DataOutputStream out, String type, byte[] data) throws IOException {
        out.writeInt(data.length);
        byte[] t = type.getBytes(StandardCharsets.US_ASCII);
        out.write(t);
        out.write(data);
        CRC32 crc = new CRC32();
        crc.update(t);
        crc.update(data);
        out.writeInt((int) crc.getValue());
    }

    /** Issue 11 item 8: a 20000x10000 PNG took 3.4 GB of heap; four ended in OutOfMemoryError. */
    @Test
    void aPhotoAboveThePixelLimitIsRefusedFromItsHeaderAndTheRestIsIngested(@TempDir Path dir) throws Exception {
        FaceModelsTest.assumeEval();
        Path up = upload(dir, "job-p", "bbt2.jpg");
        writeHugePng(up.resolve("huge.png"), 20000, 10000);
        assertTrue(Files.size(up.resolve("huge.png")) < 1_000_000, "small on disk: " + Files.size(up.resolve("huge.png")));
        JobLedger.open(dir.resolve("data/runs"), KitContext.Mode.APPLY).recordDownload("job-p",
                Map.of("bbt2.jpg", Files.size(up.resolve("bbt2.jpg")), "huge.png", Files.size(up.resolve("huge.png"))), List.of());

        long t0 = System.nanoTime();
        KitProcess.Result r = KitProcess.run("steps/ingest_inbox.java", args(dir, up, "job-p"));
        double seconds = (System.nanoTime() - t0) / 1e9;

        assertEquals(1, r.exitCode(), r.all());
        String text = r.all();
        assertFalse(text.contains("OutOfMemoryError") || text.contains("unexpected failure"), text);
        assertTrue(text.contains("huge.png is 20000x10000 pixels (200 megapixels), above the limit of 100 megapixels"), text);
        assertTrue(text.contains("--max-megapixels 200"), "names the option that lets it in: " + text);
        assertTrue(seconds < 120, "refused from the header, not after decoding: " + seconds + " s");
        JsonNode photos = new ArchiveFiles(dir.resolve("data")).readPhotoIndex().get("photos");
        assertEquals(1, photos.size(), "the rest of the batch is ingested");
        assertEquals("bbt2.jpg", photos.elements().next().get("path").asText());
        assertFalse(JobLedger.open(dir.resolve("data/runs"), KitContext.Mode.DRY_RUN).reached("job-p", JobLedger.Milestone.INGESTED),
                "the job is not ingested: it stays staged until the photo is dealt with");
    }

    /**
     * What reaches the disk, and in which order, read from the system calls of a real ingest
     * (strace): every file's bytes are flushed before it is renamed into place, and every rename
     * is flushed (its folder) before photo_index.json names the photo, so a power cut leaves no
     * registered photo without its crops or vectors. A photo's crops share one flush of the crops
     * folder: one per crop cost 5 ms each on a disk that takes 5 ms per flush.
     */
    @Test
    void everyFileIsOnDiskBeforeTheIndexNamesItAndAPhotosCropsShareOneFolderFlush(@TempDir Path dir) throws Exception {
        FaceModelsTest.assumeEval();
        Path strace = Stream.of(System.getenv("PATH").split(":")).map(d -> Path.of(d, "strace")).filter(Files::isExecutable).findFirst().orElse(null);
        Assumptions.assumeTrue(strace != null, "strace is not installed (apt-get install strace): it shows the order of the writes");
        Process probe = new ProcessBuilder(strace.toString(), "-f", "-o", "/dev/null", "true").redirectErrorStream(true).start();
        probe.getInputStream().readAllBytes();
        Assumptions.assumeTrue(probe.waitFor() == 0, "strace cannot trace here (ptrace not permitted): the order of the writes is not checked");
        Path up = upload(dir, "job-d", "bbt2.jpg", "bbt3.jpg");
        Path trace = dir.resolve("trace.txt");
        KitProcess.Result r = KitProcess.runUnder(List.of(strace.toString(), "-f", "-qq", "-y", "-o", trace.toString(),
                "-e", "trace=fsync,fdatasync,rename,renameat,renameat2,link,linkat"), "steps/ingest_inbox.java", args(dir, up, "job-d"));
        assertEquals(0, r.exitCode(), r.all());
        assertEquals(8, new ArchiveFiles(dir.resolve("data")).readPhotoIndex().get("face_to_photo").size(), "bbt2's 3 faces and bbt3's 5");

        // The calls in order: ("sync", path) or ("move", from, to); only what is under the test's folder.
        List<String[]> calls = new ArrayList<>();
        java.util.regex.Pattern quoted = java.util.regex.Pattern.compile("\"((?:[^\"\\\\]|\\\\.)*)\"");
        for (String line : Files.readAllLines(trace)) {
            java.util.regex.Matcher call = java.util.regex.Pattern.compile("^\\d+\\s+(\\w+)\\((.*)$").matcher(line);
            if (!call.matches()) continue;   // "<... resumed>" halves: their call was listed when it began
            String name = call.group(1), rest = call.group(2);
            if (name.equals("fsync") || name.equals("fdatasync")) {
                java.util.regex.Matcher fd = java.util.regex.Pattern.compile("^\\d+<([^>]*)>").matcher(rest);
                if (fd.find() && fd.group(1).startsWith(dir.toString())) calls.add(new String[] {"sync", fd.group(1)});
            } else {
                List<String> paths = new ArrayList<>();
                for (java.util.regex.Matcher q = quoted.matcher(rest); q.find(); ) paths.add(q.group(1));
                if (paths.size() == 2 && paths.get(1).startsWith(dir.toString())) calls.add(new String[] {"move", paths.get(0), paths.get(1)});
            }
        }
        Path crops = dir.resolve("raw_photos/crops"), index = dir.resolve("data/photo_index.json");
        List<Integer> indexMoves = new ArrayList<>();
        for (int i = 0; i < calls.size(); i++) {
            String[] c = calls.get(i);
            if (!c[0].equals("move")) continue;
            String from = c[1], folder = Path.of(c[2]).getParent().toString();
            int at = i;
            assertTrue(calls.subList(0, i).stream().anyMatch(s -> s[0].equals("sync") && s[1].equals(from)),
                    "the bytes of " + c[2] + " were flushed before it was renamed into place");
            int flushed = java.util.stream.IntStream.range(i + 1, calls.size())
                    .filter(k -> calls.get(k)[0].equals("sync") && calls.get(k)[1].equals(folder)).findFirst().orElse(-1);
            assertTrue(flushed > 0, "the rename of " + c[2] + " was flushed (its folder) afterwards");
            if (c[2].equals(index.toString())) indexMoves.add(i);
            int nextIndex = java.util.stream.IntStream.range(i + 1, calls.size())
                    .filter(k -> calls.get(k)[0].equals("move") && calls.get(k)[2].equals(index.toString())).findFirst().orElse(Integer.MAX_VALUE);
            assertTrue(flushed < nextIndex, c[2] + " is on disk before photo_index.json is next replaced (call " + at + ")");
        }
        assertEquals(2, indexMoves.size(), "photo_index.json replaced once per photo");
        long cropFlushes = calls.stream().filter(c -> c[0].equals("sync") && c[1].equals(crops.toString())).count();
        assertEquals(2, cropFlushes, "one flush of the crops folder per photo, not one per crop");
    }

    /** The ingest script run without the power to ignore file permissions (tests run as root, which would). */
    static KitProcess.Result runWithoutRootsPermissionOverride(String... args) throws Exception {
        return KitProcess.runUnder(List.of("capsh", "--drop=cap_dac_override,cap_dac_read_search", "--", "-c", "exec \"$@\"", "sh"),
                "steps/ingest_inbox.java", args);
    }

    static boolean root() throws Exception {
        Process p = new ProcessBuilder("id", "-u").start();
        return new String(p.getInputStream().readAllBytes()).strip().equals("0");
    }

    /**
     * Issue 11 item 9b: an unwritable raw_photos/ gave "unexpected failure: AccessDeniedException"
     * and a read-only data/ printed only a temporary file's path. Item 9a: after the ingest that
     * failed on the read-only data/ (the vectors written, photo_index.json not), the re-run left
     * second rows in the embedding store on disk.
     */
    @Test
    void foldersTheKitMayNotWriteInAreNamedPerFileAndTheRerunLeavesNoSecondRows(@TempDir Path dir) throws Exception {
        FaceModelsTest.assumeEval();
        boolean capsh = Stream.of(System.getenv("PATH").split(":")).anyMatch(d -> Files.isExecutable(Path.of(d, "capsh")));
        Assumptions.assumeTrue(!root() || capsh, "running as root without capsh: root ignores permission bits, so an unwritable folder cannot be made");
        Path up = upload(dir, "job-w", "bbt2.jpg", "bbt3.jpg");
        Path photos = Files.createDirectories(dir.resolve("raw_photos"));
        Path data = Files.createDirectories(dir.resolve("data/embeddings")).getParent();
        var readOnly = java.nio.file.attribute.PosixFilePermissions.fromString("r-xr-xr-x");
        var writable = java.nio.file.attribute.PosixFilePermissions.fromString("rwxr-xr-x");
        try {
            // 1. raw_photos/ not writable: each photo fails on its own, naming the folder and what to check.
            Files.setPosixFilePermissions(photos, readOnly);
            KitProcess.Result r = runWithoutRootsPermissionOverride(args(dir, up, "job-w"));
            assertEquals(1, r.exitCode(), r.all());
            String text = r.all();
            assertFalse(text.contains("unexpected failure"), text);
            for (String f : List.of("bbt2.jpg", "bbt3.jpg")) {
                assertTrue(text.contains(f + ": cannot keep " + f + " in the archive: permission denied: cannot write in the folder " + photos),
                        "per file, naming the folder: " + text);
            }
            assertTrue(text.contains("check that folder's permissions and owner"), text);
            Files.setPosixFilePermissions(photos, writable);

            // 2. data/ not writable (its embeddings/ is): the vectors get written, photo_index.json does not.
            Files.writeString(data.resolve(".kit.lock"), "");
            Files.setPosixFilePermissions(data, readOnly);
            r = runWithoutRootsPermissionOverride(args(dir, up, "job-w"));
            assertEquals(1, r.exitCode(), r.all());
            text = r.all();
            assertTrue(text.contains("permission denied: cannot write in the folder " + data), text);
            assertTrue(text.contains("bbt2.jpg: cannot write " + data.resolve("photo_index.json")), "per file: " + text);
            assertTrue(text.contains("bbt3.jpg: cannot write " + data.resolve("photo_index.json")), "per file: " + text);
            Files.setPosixFilePermissions(data, writable);
        } finally {
            Files.setPosixFilePermissions(photos, writable);
            Files.setPosixFilePermissions(data, writable);
        }

        // 3. everything writable again: the re-run finishes, one row per face in the store on disk.
        KitProcess.Result r = KitProcess.run("steps/ingest_inbox.java", args(dir, up, "job-w"));
        assertEquals(0, r.exitCode(), r.all());
        JsonNode index = new ArchiveFiles(data).readPhotoIndex();
        assertEquals(2, index.get("photos").size());
        int faces = index.get("face_to_photo").size();
        assertEquals(faces, EmbeddingStore.open(data).size());
        assertEquals(faces, EmbeddingStoreTest.rowsOnDisk(data), "no face id has a second row on disk");
    }

    @Test
    void aFaceSearchThatCanFindNothingIsAUsageErrorOfIngestAndRescan(@TempDir Path dir) throws Exception {
        Path empty = Files.createDirectories(dir.resolve("upload"));
        for (String[] bad : List.of(new String[] {"--min-face", "NaN"}, new String[] {"--min-face", "Infinity"},
                new String[] {"--min-face", "0"}, new String[] {"--max-megapixels", "NaN"}, new String[] {"--max-megapixels", "-1"})) {
            String what = String.join(" ", bad);
            assertEquals(StepMain.USAGE, StepMain.run(new ingest_inbox(), args(dir, empty, "job-u", bad)), "ingest " + what);
            List<String> rescanArgs = new ArrayList<>(List.of("--data-dir", dir.resolve("data").toString(), "--dry-run"));
            rescanArgs.addAll(List.of(bad));
            assertEquals(StepMain.USAGE, StepMain.run(new rescan(), rescanArgs.toArray(String[]::new)), "rescan " + what);
        }
        assertFalse(Files.exists(dir.resolve("data")), "nothing was started");
    }
}
