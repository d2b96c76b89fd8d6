//DEPS com.fasterxml.jackson.core:jackson-databind:2.18.2
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * The archive's face vectors, each tagged with the model that made it.
 *
 * <p>On disk, {@code data/embeddings/} holds segments: {@code seg-NNNNNN.npy}, a plain
 * float32 (faces × dims) NumPy matrix, and {@code seg-NNNNNN.jsonl}, one JSON line per face
 * (face_id, filename, filepath, model, sigma_sq, det_score, bbox, quality) in the same order.
 * {@code manifest.json} lists the segments; it is the only file ever replaced, atomically, so
 * adding faces writes one new segment and never touches the big ones, and a crash leaves either
 * the old list or the new one (a segment file not in the list is an unfinished write, ignored).
 * Small trailing segments are merged as faces arrive, so there are only about log2(faces) of
 * them. NumPy reads it all without pickle: {@code np.load("seg-000001.npy")} gives the
 * (faces × 512) matrix, and each line of the .jsonl is one {@code json.loads}.
 *
 * <p>When the store does not exist yet, the earlier pipeline's {@code data/embeddings.npy}
 * (a pickled object array) is read instead, its faces tagged {@code w600k_r50}. The first
 * {@link #append} copies those faces into a first segment, keeping their original double
 * precision values in its JSON lines; the legacy file itself is never written.
 *
 * <p>A face id appended again replaces the earlier vector (a re-run of an interrupted ingest),
 * keeping its place in the order, and never gets a second row on disk: the segments that hold
 * it are merged with the new one. Second rows an older kit left behind go at the next append.
 *
 * <p>The .npy layout is {@link NpyFloatMatrix}'s; the legacy file is read by {@link LegacyEmbeddings}.
 */
public final class EmbeddingStore {
    /** One face's embedding and detection facts. mu: 512 floats, L2-normalised. bbox: x1,y1,x2,y2 in original pixels. */
    public record Face(String faceId, String filename, String filepath, float[] mu, float sigmaSq,
                       float detScore, float[] bbox, float quality, String model) {}

    public static final String FOLDER = "embeddings";
    public static final String MANIFEST = "manifest.json";
    public static final String LEGACY_FILE = "embeddings.npy";
    /** The model of every face in the legacy file: InsightFace buffalo_l's ArcFace ResNet-50. */
    public static final String LEGACY_MODEL = "w600k_r50";

    /** Where the converted copy of the legacy file lives (see {@link #openConverting}). */
    public static final String CONVERTED_FOLDER = "embeddings.npy.converted";

    private final Path dataDir;
    /** The folder of segments: data/embeddings/, or the legacy file's converted copy. */
    private final Path folder;
    /** face id → face, in store order. */
    private LinkedHashMap<String, Face> faces = new LinkedHashMap<>();
    /**
     * face id → its JSON line (keeps the legacy doubles and any field the kit does not know): an
     * ObjectNode, or a {@link Slice} of the segment's bytes, made a tree only when asked for (matching
     * reads tens of thousands of faces and needs none of their lines).
     */
    private Map<String, Object> meta = new HashMap<>();

    /** One face's JSON line, still as the bytes it was read from. */
    private record Slice(byte[] bytes, int start, int end, Path file, int lineNo) {}
    private ObjectNode manifest;
    /** The face ids of each segment listed in the manifest, in file order. */
    private List<List<String>> segmentIds = new ArrayList<>();
    /** True when the faces came from the legacy file (no store on disk yet). */
    private boolean fromLegacy;
    /** The first segment holding a row that a later row of the same face id replaces (left by an older kit), or -1. */
    private int firstStaleSegment = -1;

    private EmbeddingStore(Path dataDir) {
        this(dataDir, dataDir.resolve(FOLDER));
    }

    private EmbeddingStore(Path dataDir, Path folder) {
        this.dataDir = dataDir;
        this.folder = folder;
    }

    /** Whether opening an archive that only has the legacy file may write that file's converted copy. */
    public enum Conversion { READ_ONLY, CONVERT }

    /** The store in dataDir; if it does not exist yet but a legacy dataDir/embeddings.npy does, that file is
     *  read (faces tagged model "w600k_r50"); else an empty store. Bad files -> KitException naming the file. */
    public static EmbeddingStore open(Path dataDir) {
        return open(dataDir, Conversion.READ_ONLY);
    }

    /**
     * As {@link #open(Path)}; with {@link Conversion#CONVERT}, an archive that only has the legacy
     * embeddings.npy gets (or refreshes) its converted copy, so the next open reads segments instead of
     * the pickle. A valid converted copy is read in either mode.
     *
     * <p>Which one is the truth: while data/embeddings/manifest.json does not exist, embeddings.npy is,
     * and data/embeddings.npy.converted/ is only a cache of it, in the store's own segment layout:
     * used only while its recorded fingerprint (size, modification and change times, file number,
     * SHA-256) still matches the file, rebuilt otherwise, deletable at any time, never a source for
     * anything else (the first {@link #append} copies the faces into the store proper and removes it).
     * Once the store exists it is the truth and embeddings.npy is not read at all.
     */
    public static EmbeddingStore open(Path dataDir, Conversion conversion) {
        EmbeddingStore s = new EmbeddingStore(dataDir);
        Path manifestFile = s.folder().resolve(MANIFEST);
        if (Files.isRegularFile(manifestFile)) {
            s.loadSegments(manifestFile);
        } else if (Files.isRegularFile(dataDir.resolve(LEGACY_FILE))) {
            s.fromLegacy = true;
            s.loadLegacy(conversion);
            s.manifest = newManifest();
            s.segmentIds = new ArrayList<>();
            s.firstStaleSegment = -1;
        } else {
            s.manifest = newManifest();
        }
        return s;
    }

    public Path folder() {
        return folder;
    }

    /** The legacy file's faces: from its converted copy when that still matches the file, else parsed (and, to CONVERT, copied). */
    private void loadLegacy(Conversion conversion) {
        Path legacy = dataDir.resolve(LEGACY_FILE);
        Path convertedFolder = dataDir.resolve(CONVERTED_FOLDER);
        ObjectNode quick = LegacyEmbeddings.fingerprint(legacy);
        ObjectNode recorded = null;
        Path convertedManifest = convertedFolder.resolve(MANIFEST);
        try {
            if (Files.isRegularFile(convertedManifest)) recorded = JsonFiles.readObject(convertedManifest);
        } catch (IOException | RuntimeException e) {
            recorded = null; // a damaged cache is rebuilt, never trusted
        }
        boolean copyBroken = false;
        if (recorded != null && LegacyEmbeddings.sameFile(recorded.path("source"), quick)) {
            try {
                loadSegments(convertedFolder, recorded);
                return;
            } catch (KitException e) {
                // A damaged copy: the pickle is read instead, and the copy rebuilt.
                copyBroken = true;
                faces.clear();
                meta.clear();
                segmentIds = new ArrayList<>();
            }
        }
        LegacyEmbeddings.Parsed parsed = LegacyEmbeddings.readWithHash(legacy);
        for (LegacyEmbeddings.LegacyFace lf : parsed.faces()) put(lf.face(), lf.meta());
        if (conversion != Conversion.CONVERT || parsed.faces().isEmpty()) return;
        ObjectNode source = quick.deepCopy();
        source.put("sha256", parsed.sha256());
        if (!copyBroken && recorded != null && parsed.sha256().equals(recorded.path("source").path("sha256").asText())) {
            // Same bytes under a new fingerprint (a copy, a restore): the copy is still right, only its record is refreshed.
            ObjectNode refreshed = recorded.deepCopy();
            refreshed.set("source", source);
            try {
                JsonFiles.write(convertedManifest, refreshed);
                return;
            } catch (IOException e) {
                return; // only a cache: the next run tries again
            }
        }
        writeConverted(convertedFolder, source);
    }

    /**
     * The converted copy: segment files first, then its manifest (atomically, naming them and the
     * source's fingerprint), then the old segments go. A crash at any point leaves either the old
     * manifest (whose fingerprint no longer matches: rebuilt) or the new one; segments no manifest
     * lists are removed by the next conversion. Failing to write it is not an error: it is a cache.
     */
    private void writeConverted(Path convertedFolder, ObjectNode source) {
        EmbeddingStore copy = new EmbeddingStore(dataDir, convertedFolder);
        try {
            Files.createDirectories(convertedFolder);
            List<ObjectNode> old = new ArrayList<>();
            Path m = convertedFolder.resolve(MANIFEST);
            try {
                if (Files.isRegularFile(m)) JsonFiles.readObject(m).path("segments").forEach(n -> old.add((ObjectNode) n));
            } catch (IOException | RuntimeException e) {
                // unreadable: its segments are unlisted files, removed below
            }
            List<Face> all = new ArrayList<>(faces.values());
            ObjectNode next = newManifest();
            next.put("note", "a converted copy of ../" + LEGACY_FILE + ", which stays the truth; safe to delete");
            next.set("source", source);
            next.putArray("segments").add(copy.writeSegment(segmentName(nextSegmentNumber(old)), all,
                    all.stream().map(f -> line(f.faceId())).toList(), "converted from " + LEGACY_FILE));
            copy.writeManifest(next);
            copy.removeUnlisted(next);
        } catch (IOException e) {
            // only a cache: the legacy file was read, and the next run tries again
        }
    }

    /** True when the faces were read from the legacy embeddings.npy (nothing written yet). */
    public boolean isLegacy() {
        return fromLegacy;
    }

    public int size() {
        return faces.size();
    }

    /** In store order. */
    public List<Face> faces() {
        return Collections.unmodifiableList(new ArrayList<>(faces.values()));
    }

    /** Null if absent. */
    public Face get(String faceId) {
        return faces.get(faceId);
    }

    /** The model tags present. */
    public Set<String> models() {
        Set<String> out = new LinkedHashSet<>();
        for (Face f : faces.values()) out.add(f.model());
        return out;
    }

    /**
     * Adds faces durably and atomically WITHOUT rewriting the whole store (cheap: called once per photo).
     * The new faces go to a new segment; trailing segments no bigger than it are merged into it
     * (size-tiered, like a binary counter), so a store built one photo at a time keeps about
     * log2(faces) segments and each face is rewritten only a few times over its life. Segments
     * holding a face id that is appended again are merged too, so no face ever has two rows.
     */
    public void append(List<Face> newFaces) {
        if (newFaces.isEmpty()) return;
        check(newFaces);
        int dims = newFaces.get(0).mu().length;
        try (DataLock lock = DataLock.acquire(dataDir, "add face embeddings")) {
            List<ObjectNode> segs = new ArrayList<>();
            manifest.withArray("segments").forEach(n -> segs.add((ObjectNode) n.deepCopy()));
            List<List<String>> ids = new ArrayList<>(segmentIds);
            if (fromLegacy && !faces.isEmpty()) {
                // The first write of an archive that only had the legacy file: its faces become segment 1.
                List<Face> legacy = new ArrayList<>(faces.values());
                segs.add(writeSegment(segmentName(nextSegmentNumber(segs)), legacy,
                        legacy.stream().map(f -> line(f.faceId())).toList(), "imported from " + LEGACY_FILE));
                ids.add(legacy.stream().map(Face::faceId).toList());
            }
            int keep = segs.size(), pending = newFaces.size();
            while (keep > 0 && segs.get(keep - 1).path("count").asInt() <= pending && segs.get(keep - 1).path("dims").asInt() == dims) {
                keep--;
                pending += segs.get(keep).path("count").asInt();
            }
            keep = Math.min(keep, firstSegmentHolding(ids, newFaces));
            if (firstStaleSegment >= 0) keep = Math.min(keep, firstStaleSegment);
            // The merged faces: the popped segments' faces in order (latest version of each, once), then the new ones.
            LinkedHashMap<String, Face> mergedFaces = new LinkedHashMap<>();
            LinkedHashMap<String, ObjectNode> mergedLines = new LinkedHashMap<>();
            for (int k = keep; k < ids.size(); k++) {
                for (String id : ids.get(k)) {
                    mergedFaces.put(id, faces.get(id));
                    mergedLines.put(id, line(id));
                }
            }
            for (Face f : newFaces) {
                mergedFaces.put(f.faceId(), f);
                mergedLines.put(f.faceId(), metaOf(f));
            }
            // One segment per run of equal vector length (a merge forced by a repeated id may span two models).
            List<ObjectNode> written = new ArrayList<>();
            List<List<String>> writtenIds = new ArrayList<>();
            int number = nextSegmentNumber(segs);
            List<Face> run = new ArrayList<>();
            List<ObjectNode> runLines = new ArrayList<>();
            for (Face f : mergedFaces.values()) {
                if (!run.isEmpty() && run.get(0).mu().length != f.mu().length) {
                    written.add(writeSegment(segmentName(number++), run, runLines, null));
                    writtenIds.add(run.stream().map(Face::faceId).toList());
                    run = new ArrayList<>();
                    runLines = new ArrayList<>();
                }
                run.add(f);
                runLines.add(mergedLines.get(f.faceId()));
            }
            written.add(writeSegment(segmentName(number), run, runLines, null));
            writtenIds.add(run.stream().map(Face::faceId).toList());
            ObjectNode next = manifest.deepCopy();
            ArrayNode nextSegments = next.putArray("segments");
            for (int k = 0; k < keep; k++) nextSegments.add(segs.get(k));
            written.forEach(nextSegments::add);
            writeManifest(next);
            // Only now that the new list is durable are the merged segments garbage.
            for (int k = keep; k < segs.size(); k++) deleteSegment(segs.get(k).path("name").asText());
            removeUnlisted(next);
            // The store proper now holds the legacy faces: their converted copy is no longer read.
            deleteConvertedCopy();
            manifest = next;
            fromLegacy = false;
            firstStaleSegment = -1;
            segmentIds = new ArrayList<>(ids.subList(0, keep));
            segmentIds.addAll(writtenIds);
            for (Face f : newFaces) put(f, mergedLines.get(f.faceId()));
        } catch (IOException e) {
            throw new KitException("cannot write face embeddings in " + folder() + ": " + e.getMessage(),
                    "check the free disk space, and the permissions and owner of " + folder(), e);
        }
    }

    /** The first segment holding one of these faces' ids (they are being written again), or the segment count. */
    private static int firstSegmentHolding(List<List<String>> ids, List<Face> again) {
        Set<String> wanted = new java.util.HashSet<>();
        for (Face f : again) wanted.add(f.faceId());
        for (int k = 0; k < ids.size(); k++) {
            for (String id : ids.get(k)) if (wanted.contains(id)) return k;
        }
        return ids.size();
    }

    /** Segment files the manifest does not list: left by a write that crashed before its manifest. */
    private void removeUnlisted(ObjectNode m) throws IOException {
        Set<String> listed = new java.util.HashSet<>();
        for (JsonNode seg : m.path("segments")) listed.add(seg.path("name").asText());
        try (var files = Files.list(folder())) {
            for (Path f : files.toList()) {
                String n = f.getFileName().toString();
                String base = n.replaceFirst("\\.(npy|jsonl)$", "");
                if (n.startsWith("seg-") && !base.equals(n) && !listed.contains(base)) Files.deleteIfExists(f);
            }
        }
    }

    /** True when two JSON values (numbers or lists of numbers) are equal once rounded to float. */
    private static boolean sameAsFloats(JsonNode a, JsonNode b) {
        if (a.isNumber() && b.isNumber()) return (float) a.asDouble() == (float) b.asDouble();
        if (!a.isArray() || !b.isArray() || a.size() != b.size()) return false;
        for (int i = 0; i < a.size(); i++) if (!sameAsFloats(a.get(i), b.get(i))) return false;
        return true;
    }

    private void deleteConvertedCopy() throws IOException {
        Path dir = dataDir.resolve(CONVERTED_FOLDER);
        if (!Files.isDirectory(dir)) return;
        // The manifest first: a crash part-way leaves unlisted segments, never a listed one missing.
        Files.deleteIfExists(dir.resolve(MANIFEST));
        try (var files = Files.list(dir)) {
            for (Path f : files.toList()) Files.deleteIfExists(f);
        }
        Files.deleteIfExists(dir);
    }

    private void deleteSegment(String name) throws IOException {
        Files.deleteIfExists(folder().resolve(name + ".npy"));
        Files.deleteIfExists(folder().resolve(name + ".jsonl"));
    }

    /** Rewrites the whole store atomically (used by re-embedding). */
    public void replaceAll(List<Face> all) {
        check(all);
        try (DataLock lock = DataLock.acquire(dataDir, "replace face embeddings")) {
            ArrayNode oldSegments = manifest.withArray("segments").deepCopy();
            List<ObjectNode> lines = new ArrayList<>();
            for (Face f : all) {
                // Keep what the old line knew beyond the Face fields (legacy doubles are not: the vector changed).
                ObjectNode old = line(f.faceId());
                ObjectNode line = metaOf(f);
                if (old != null) {
                    old.fields().forEachRemaining(e -> { if (!line.has(e.getKey())) line.set(e.getKey(), e.getValue()); });
                    // Unchanged detection facts keep their original double precision.
                    for (String key : List.of("det_score", "quality", "sigma_sq", "bbox")) {
                        if (old.has(key) && sameAsFloats(old.get(key), line.get(key))) line.set(key, old.get(key));
                    }
                }
                lines.add(line);
            }
            List<ObjectNode> old = new ArrayList<>();
            oldSegments.forEach(n -> old.add((ObjectNode) n));
            ObjectNode next = manifest.deepCopy();
            ArrayNode nextSegments = next.putArray("segments");
            if (!all.isEmpty()) nextSegments.add(writeSegment(segmentName(nextSegmentNumber(old)), all, lines, "rewritten whole"));
            writeManifest(next);
            manifest = next;
            fromLegacy = false;
            firstStaleSegment = -1;
            faces.clear();
            meta.clear();
            for (int i = 0; i < all.size(); i++) put(all.get(i), lines.get(i));
            // Only now that the new list is durable are the old segments garbage.
            for (JsonNode o : oldSegments) deleteSegment(o.path("name").asText());
            removeUnlisted(next);
            deleteConvertedCopy();
            segmentIds = new ArrayList<>();
            segmentIds.add(all.stream().map(Face::faceId).toList());
        } catch (IOException e) {
            throw new KitException("cannot rewrite face embeddings in " + folder() + ": " + e.getMessage(),
                    "check the free disk space, and the permissions and owner of " + folder(), e);
        }
    }

    // ------------------------------------------------------------------ layout on disk

    private static ObjectNode newManifest() {
        ObjectNode m = JsonFiles.object();
        m.put("schema_version", 1);
        m.put("format", "float32 .npy matrix + .jsonl metadata per segment");
        m.putArray("segments");
        return m;
    }

    private static int nextSegmentNumber(List<ObjectNode> existing) {
        int max = 0;
        for (JsonNode seg : existing) {
            java.util.regex.Matcher m = Pattern.compile("seg-(\\d+)").matcher(seg.path("name").asText());
            if (m.matches()) max = Math.max(max, Integer.parseInt(m.group(1)));
        }
        return max + 1;
    }

    private static String segmentName(int number) {
        return String.format("seg-%06d", number);
    }

    private ObjectNode writeSegment(String name, List<Face> list, List<ObjectNode> lines, String note) throws IOException {
        int dims = list.get(0).mu().length;
        Files.createDirectories(folder());
        StringBuilder sb = new StringBuilder();
        for (ObjectNode line : lines) sb.append(JsonFiles.compact(line)).append('\n');
        // Both halves on disk (one flush of the folder) before the manifest that lists them is replaced.
        Map<Path, byte[]> halves = new LinkedHashMap<>();
        halves.put(folder().resolve(name + ".npy"), NpyFloatMatrix.encode(list.stream().map(Face::mu).toList(), dims));
        halves.put(folder().resolve(name + ".jsonl"), sb.toString().getBytes(StandardCharsets.UTF_8));
        AtomicFiles.writeAll(halves);
        ObjectNode seg = JsonFiles.object();
        seg.put("name", name);
        seg.put("count", list.size());
        seg.put("dims", dims);
        if (note != null) seg.put("note", note);
        return seg;
    }

    private void writeManifest(ObjectNode m) throws IOException {
        JsonFiles.write(folder().resolve(MANIFEST), m);
    }

    private void loadSegments(Path manifestFile) {
        try {
            manifest = JsonFiles.readObject(manifestFile);
        } catch (IOException e) {
            throw new KitException("cannot read " + manifestFile + ": " + e.getMessage(), "check the file's permissions", e);
        }
        loadSegments(folder(), manifest);
    }

    private void loadSegments(Path folder, ObjectNode manifest) {
        Path manifestFile = folder.resolve(MANIFEST);
        JsonNode segs = manifest.path("segments");
        if (!segs.isArray()) throw badStore(manifestFile, "has no \"segments\" list");
        if (faces.isEmpty()) {
            // Sized once for every face listed: growing maps of tens of thousands of entries step by step costs more.
            long listed = 0;
            for (JsonNode seg : segs) listed += Math.max(0, seg.path("count").asInt(0));
            int capacity = (int) Math.min(1 << 28, listed * 4 / 3 + 16);
            faces = new LinkedHashMap<>(capacity);
            meta = new HashMap<>(capacity);
        }
        for (JsonNode seg : segs) {
            String name = seg.path("name").asText("");
            int count = seg.path("count").asInt(-1), dims = seg.path("dims").asInt(-1);
            if (name.isEmpty() || count < 0 || dims <= 0) throw badStore(manifestFile, "has a segment without name/count/dims: " + seg);
            Path npy = folder.resolve(name + ".npy"), jsonl = folder.resolve(name + ".jsonl");
            float[][] vectors = readMatrix(npy, count, dims);
            List<Line> lines = readLines(jsonl);
            if (lines.size() != count) throw badStore(jsonl, "has " + lines.size() + " faces, " + npy.getFileName() + " has " + count);
            List<String> ids = new ArrayList<>(count);
            int segment = segmentIds.size();
            segmentIds.add(ids);
            for (int i = 0; i < count; i++) {
                Line line = lines.get(i);
                Face f = line.face(vectors[i]);
                ids.add(f.faceId());
                // A second row (an older kit's re-run): the later row wins now, and the next append compacts.
                if (put(f, line.slice()) != null) {
                    int earlier = firstSegmentListing(f.faceId(), segment);
                    if (firstStaleSegment < 0 || earlier < firstStaleSegment) firstStaleSegment = earlier;
                }
            }
        }
    }

    /** The first segment, up to {@code last}, that lists the face id (rare: only for an id read twice). */
    private int firstSegmentListing(String faceId, int last) {
        for (int s = 0; s < last; s++) if (segmentIds.get(s).contains(faceId)) return s;
        return last;
    }

    private static float[][] readMatrix(Path npy, int rows, int dims) {
        try {
            return NpyFloatMatrix.readRows(npy, rows, dims);
        } catch (NpyFloatMatrix.Malformed e) {
            throw badStore(npy, e.getMessage());
        } catch (NoSuchFileException e) {
            throw badStore(npy, "is missing");
        } catch (IOException e) {
            throw new KitException("cannot read " + npy + ": " + e.getMessage(), "check the file's permissions", e);
        }
    }

    /** Plain doubles are exact here (every number was written from a double), and much quicker than decimals. */
    private static final com.fasterxml.jackson.databind.ObjectMapper LINES = new com.fasterxml.jackson.databind.ObjectMapper();

    /** A face's JSON line as read: the Face fields (mu still to come) and where its bytes are. */
    private record Line(String faceId, String filename, String filepath, float sigmaSq, float detScore, float[] bbox,
                        float quality, String model, Slice slice) {
        Face face(float[] mu) {
            if (faceId == null) return faceOf(tree(slice), mu, slice.file(), slice.lineNo()); // not the usual shape: the tree decides
            return new Face(faceId, filename, filepath, mu, sigmaSq, detScore, bbox, quality, model);
        }
    }

    /**
     * The segment's JSON lines, read with one streaming parser over the file's bytes: only the Face
     * fields are taken out, and each line's bytes are kept for when its whole tree is wanted. A line
     * whose known fields are not of the usual types is left to {@link #faceOf}, which reads any JSON.
     */
    private static List<Line> readLines(Path jsonl) {
        List<Line> out = new ArrayList<>();
        byte[] bytes;
        try {
            bytes = Files.readAllBytes(jsonl);
        } catch (NoSuchFileException e) {
            throw badStore(jsonl, "is missing");
        } catch (IOException e) {
            throw new KitException("cannot read " + jsonl + ": " + e.getMessage(), "check the file's permissions", e);
        }
        String lastModel = null;
        try (com.fasterxml.jackson.core.JsonParser p = LINES.getFactory().createParser(bytes)) {
            com.fasterxml.jackson.core.JsonToken t;
            while ((t = p.nextToken()) != null) {
                int lineNo = out.size() + 1;
                if (t != com.fasterxml.jackson.core.JsonToken.START_OBJECT) {
                    p.skipChildren();
                    throw badStore(jsonl, "line " + lineNo + " is not a JSON object");
                }
                int start = (int) p.currentTokenLocation().getByteOffset();
                Line fields = fields(p);
                int end = (int) p.currentLocation().getByteOffset();
                Slice slice = new Slice(bytes, start, end, jsonl, lineNo);
                if (fields == null) {
                    out.add(new Line(null, null, null, 0, 0, null, 0, null, slice));
                    continue;
                }
                // One String per model name, not one per face: matching compares every face's model with the first's.
                String model = fields.model().equals(lastModel) ? lastModel : (lastModel = fields.model());
                out.add(new Line(fields.faceId(), fields.filename(), fields.filepath(), fields.sigmaSq(), fields.detScore(),
                        fields.bbox(), fields.quality(), model, slice));
            }
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw badStore(jsonl, "is not valid JSON lines (face " + (out.size() + 1) + ": " + e.getOriginalMessage() + ")");
        } catch (IOException e) {
            throw new KitException("cannot read " + jsonl + ": " + e.getMessage(), "check the file's permissions", e);
        }
        return out;
    }

    /**
     * The Face fields of the object the parser is at (it ends on the object's END_OBJECT), as {@link #faceOf}
     * would read them; null when one of them is not of the usual type (a number as face_id, a null, ...).
     */
    private static Line fields(com.fasterxml.jackson.core.JsonParser p) throws IOException {
        String id = null, filename = null, filepath = null, model = null;
        double sigmaSq = 1.0, detScore = 0, quality = 0;
        float[] bbox = new float[0];
        boolean usual = true;
        com.fasterxml.jackson.core.JsonToken t;
        while ((t = p.nextToken()) == com.fasterxml.jackson.core.JsonToken.FIELD_NAME) {
            String name = p.currentName();
            t = p.nextToken();
            boolean text = t == com.fasterxml.jackson.core.JsonToken.VALUE_STRING;
            boolean number = t == com.fasterxml.jackson.core.JsonToken.VALUE_NUMBER_INT || t == com.fasterxml.jackson.core.JsonToken.VALUE_NUMBER_FLOAT;
            switch (name) {
                case "face_id" -> { if (text) id = p.getText(); else usual = false; }
                case "filename" -> { if (text) filename = p.getText(); else usual = false; }
                case "filepath" -> { if (text) filepath = p.getText(); else usual = false; }
                case "model" -> { if (text) model = p.getText(); else usual = false; }
                case "sigma_sq" -> { if (number) sigmaSq = number(p); else usual = false; }
                case "det_score" -> { if (number) detScore = number(p); else usual = false; }
                case "quality" -> { if (number) quality = number(p); else usual = false; }
                case "bbox" -> {
                    if (t != com.fasterxml.jackson.core.JsonToken.START_ARRAY) {
                        usual = false;
                        p.skipChildren();
                        break;
                    }
                    float[] b = new float[4];
                    int n = 0;
                    while ((t = p.nextToken()) != com.fasterxml.jackson.core.JsonToken.END_ARRAY) {
                        if (t == com.fasterxml.jackson.core.JsonToken.VALUE_NUMBER_INT || t == com.fasterxml.jackson.core.JsonToken.VALUE_NUMBER_FLOAT) {
                            if (n == b.length) b = Arrays.copyOf(b, n * 2);
                            b[n++] = (float) number(p);
                        } else {
                            usual = false;
                            p.skipChildren();
                        }
                    }
                    bbox = Arrays.copyOf(b, n);
                }
                default -> p.skipChildren();
            }
        }
        if (!usual || id == null || id.isEmpty()) return null;
        return new Line(id, filename, filepath, (float) sigmaSq, (float) detScore, bbox, (float) quality,
                model == null ? LEGACY_MODEL : model, null);
    }

    private static final double[] POWERS_OF_TEN = {1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15};

    /**
     * The number token's value as a double, exactly as the parser's {@code getDoubleValue()} gives it.
     * The usual numbers here (0.98, 130.0, 21.5) are read directly: digits d and k decimals, at most 15
     * digits, are d / 10^k, where both are exact doubles and the one division is correctly rounded
     * (Clinger's fast path), so the result is the parser's; anything else is left to the parser.
     * A store's tens of thousands of lines hold hundreds of thousands of such numbers.
     */
    private static double number(com.fasterxml.jackson.core.JsonParser p) throws IOException {
        char[] text = p.getTextCharacters();
        int at = p.getTextOffset(), end = at + p.getTextLength();
        boolean negative = at < end && text[at] == '-';
        if (negative) at++;
        long digits = 0;
        int count = 0, decimals = -1;
        for (int i = at; i < end; i++) {
            char ch = text[i];
            if (ch >= '0' && ch <= '9') {
                if (++count > 15) return p.getDoubleValue();
                digits = digits * 10 + (ch - '0');
                if (decimals >= 0) decimals++;
            } else if (ch == '.' && decimals < 0) {
                decimals = 0;
            } else {
                return p.getDoubleValue(); // an exponent
            }
        }
        if (count == 0) return p.getDoubleValue();
        double v = decimals > 0 ? digits / POWERS_OF_TEN[decimals] : digits;
        return negative ? -v : v;
    }

    private static Face faceOf(ObjectNode line, float[] mu, Path file, int lineNo) {
        String id = line.path("face_id").asText("");
        if (id.isEmpty()) throw badStore(file, "line " + lineNo + " has no face_id");
        JsonNode b = line.path("bbox");
        float[] bbox = new float[b.isArray() ? b.size() : 0];
        for (int i = 0; i < bbox.length; i++) bbox[i] = (float) b.get(i).asDouble();
        return new Face(id, line.path("filename").asText(null), line.path("filepath").asText(null), mu,
                (float) line.path("sigma_sq").asDouble(1.0), (float) line.path("det_score").asDouble(0),
                bbox, (float) line.path("quality").asDouble(0), line.path("model").asText(LEGACY_MODEL));
    }

    private static ObjectNode metaOf(Face f) {
        ObjectNode n = JsonFiles.object();
        n.put("face_id", f.faceId());
        n.put("filename", f.filename());
        n.put("filepath", f.filepath());
        n.put("model", f.model());
        n.put("sigma_sq", f.sigmaSq());
        n.put("det_score", f.detScore());
        ArrayNode b = n.putArray("bbox");
        if (f.bbox() != null) for (float v : f.bbox()) b.add(v);
        n.put("quality", f.quality());
        return n;
    }

    /** Adds or replaces a face (keeping its place in the order); returns the face it replaced, or null. */
    private Face put(Face f, Object line) {
        meta.put(f.faceId(), line);
        return faces.put(f.faceId(), f);
    }

    /** A face's JSON line as a tree (parsed now if it was only read), or null. */
    private ObjectNode line(String faceId) {
        Object m = meta.get(faceId);
        if (m instanceof Slice slice) {
            ObjectNode tree = tree(slice);
            meta.put(faceId, tree);
            return tree;
        }
        return (ObjectNode) m;
    }

    private static ObjectNode tree(Slice s) {
        try {
            return (ObjectNode) LINES.readTree(s.bytes(), s.start(), s.end() - s.start());
        } catch (IOException e) {
            throw badStore(s.file(), "is not valid JSON lines (face " + s.lineNo() + ": " + e.getMessage() + ")");
        }
    }

    private void check(List<Face> list) {
        for (Face f : list) {
            if (f.faceId() == null || f.faceId().isBlank()) throw new IllegalArgumentException("a face without a face id");
            if (f.mu() == null || f.mu().length == 0) throw new IllegalArgumentException("face " + f.faceId() + " has no vector");
            if (f.model() == null || f.model().isBlank()) throw new IllegalArgumentException("face " + f.faceId() + " has no model tag");
            if (f.mu().length != list.get(0).mu().length) throw new IllegalArgumentException("faces of one segment must have vectors of one length");
        }
    }

    private static KitException badStore(Path file, String detail) {
        return new KitException(file + " " + detail + " (face embedding store)",
                "restore data/" + FOLDER + "/ from a backup, or rebuild it with ./jbang steps/reembed.java");
    }

    /** The original double-precision values of a face as the store holds them (JSON line), or null. */
    public JsonNode metadata(String faceId) {
        ObjectNode m = line(faceId);
        return m == null ? null : m.deepCopy();
    }
}
