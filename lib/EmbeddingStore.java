//DEPS com.fasterxml.jackson.core:jackson-databind:2.18.2
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
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
 * keeping its place in the order.
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

    private final Path dataDir;
    /** face id → face, in store order. */
    private final LinkedHashMap<String, Face> faces = new LinkedHashMap<>();
    /** face id → its JSON line (keeps the legacy doubles and any field the kit does not know). */
    private final Map<String, ObjectNode> meta = new HashMap<>();
    private ObjectNode manifest;
    /** The face ids of each segment listed in the manifest, in file order. */
    private List<List<String>> segmentIds = new ArrayList<>();
    /** True when the faces came from the legacy file (no store on disk yet). */
    private boolean fromLegacy;

    private EmbeddingStore(Path dataDir) {
        this.dataDir = dataDir;
    }

    /** The store in dataDir; if it does not exist yet but a legacy dataDir/embeddings.npy does, that file is
     *  read (faces tagged model "w600k_r50"); else an empty store. Bad files -> KitException naming the file. */
    public static EmbeddingStore open(Path dataDir) {
        EmbeddingStore s = new EmbeddingStore(dataDir);
        Path manifestFile = s.folder().resolve(MANIFEST);
        if (Files.isRegularFile(manifestFile)) {
            s.loadSegments(manifestFile);
        } else if (Files.isRegularFile(dataDir.resolve(LEGACY_FILE))) {
            s.fromLegacy = true;
            s.manifest = newManifest();
            for (LegacyFace lf : readLegacy(dataDir.resolve(LEGACY_FILE))) s.put(lf.face(), lf.meta());
        } else {
            s.manifest = newManifest();
        }
        return s;
    }

    public Path folder() {
        return dataDir.resolve(FOLDER);
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
     * log2(faces) segments and each face is rewritten only a few times over its life.
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
                segs.add(writeSegment(nextSegmentName(segs), legacy, legacy.stream().map(f -> meta.get(f.faceId())).toList(),
                        "imported from " + LEGACY_FILE));
                ids.add(legacy.stream().map(Face::faceId).toList());
            }
            int keep = segs.size(), pending = newFaces.size();
            while (keep > 0 && segs.get(keep - 1).path("count").asInt() <= pending && segs.get(keep - 1).path("dims").asInt() == dims) {
                keep--;
                pending += segs.get(keep).path("count").asInt();
            }
            // The merged segment: the popped segments' faces in order (latest version of each), then the new ones.
            LinkedHashMap<String, Face> mergedFaces = new LinkedHashMap<>();
            LinkedHashMap<String, ObjectNode> mergedLines = new LinkedHashMap<>();
            for (int k = keep; k < ids.size(); k++) {
                for (String id : ids.get(k)) {
                    mergedFaces.put(id, faces.get(id));
                    mergedLines.put(id, meta.get(id));
                }
            }
            for (Face f : newFaces) {
                mergedFaces.put(f.faceId(), f);
                mergedLines.put(f.faceId(), metaOf(f));
            }
            ObjectNode seg = writeSegment(nextSegmentName(segs), new ArrayList<>(mergedFaces.values()),
                    new ArrayList<>(mergedLines.values()), null);
            ObjectNode next = manifest.deepCopy();
            ArrayNode nextSegments = next.putArray("segments");
            for (int k = 0; k < keep; k++) nextSegments.add(segs.get(k));
            nextSegments.add(seg);
            writeManifest(next);
            // Only now that the new list is durable are the merged segments garbage.
            for (int k = keep; k < segs.size(); k++) deleteSegment(segs.get(k).path("name").asText());
            removeUnlisted(next);
            manifest = next;
            fromLegacy = false;
            segmentIds = new ArrayList<>(ids.subList(0, keep));
            segmentIds.add(new ArrayList<>(mergedFaces.keySet()));
            for (Face f : newFaces) put(f, mergedLines.get(f.faceId()));
        } catch (IOException e) {
            throw new KitException("cannot write face embeddings in " + folder() + ": " + e.getMessage(),
                    "check the free disk space and permissions of " + dataDir, e);
        }
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
                ObjectNode old = meta.get(f.faceId());
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
            if (!all.isEmpty()) nextSegments.add(writeSegment(nextSegmentName(old), all, lines, "rewritten whole"));
            writeManifest(next);
            manifest = next;
            fromLegacy = false;
            faces.clear();
            meta.clear();
            for (int i = 0; i < all.size(); i++) put(all.get(i), lines.get(i));
            // Only now that the new list is durable are the old segments garbage.
            for (JsonNode o : oldSegments) deleteSegment(o.path("name").asText());
            removeUnlisted(next);
            segmentIds = new ArrayList<>();
            segmentIds.add(all.stream().map(Face::faceId).toList());
        } catch (IOException e) {
            throw new KitException("cannot rewrite face embeddings in " + folder() + ": " + e.getMessage(),
                    "check the free disk space and permissions of " + dataDir, e);
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

    private static String nextSegmentName(List<ObjectNode> existing) {
        int max = 0;
        for (JsonNode seg : existing) {
            java.util.regex.Matcher m = Pattern.compile("seg-(\\d+)").matcher(seg.path("name").asText());
            if (m.matches()) max = Math.max(max, Integer.parseInt(m.group(1)));
        }
        return String.format("seg-%06d", max + 1);
    }

    private ObjectNode writeSegment(String name, List<Face> list, List<ObjectNode> lines, String note) throws IOException {
        int dims = list.get(0).mu().length;
        Files.createDirectories(folder());
        AtomicFiles.write(folder().resolve(name + ".npy"), npyBytes(list, dims));
        StringBuilder sb = new StringBuilder();
        for (ObjectNode line : lines) sb.append(JsonFiles.compact(line)).append('\n');
        AtomicFiles.write(folder().resolve(name + ".jsonl"), sb.toString().getBytes(StandardCharsets.UTF_8));
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

    /** A plain NumPy 1.0 file: '<f4', C order, shape (n, dims). */
    static byte[] npyBytes(List<Face> list, int dims) {
        String dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (" + list.size() + ", " + dims + "), }";
        int unpadded = 10 + dict.length() + 1;
        int total = (unpadded + 63) / 64 * 64; // NumPy aligns the data to 64 bytes
        String header = dict + " ".repeat(total - unpadded) + "\n";
        ByteBuffer buf = ByteBuffer.allocate(total + list.size() * dims * 4).order(ByteOrder.LITTLE_ENDIAN);
        buf.put((byte) 0x93).put("NUMPY".getBytes(StandardCharsets.US_ASCII)).put((byte) 1).put((byte) 0);
        buf.putShort((short) header.length());
        buf.put(header.getBytes(StandardCharsets.US_ASCII));
        for (Face f : list) for (float v : f.mu()) buf.putFloat(v);
        return buf.array();
    }

    private static final Pattern SHAPE = Pattern.compile("'shape':\\s*\\((\\d+),\\s*(\\d+)\\)");

    /** Reads a segment matrix into one contiguous array (rows = faces). */
    static float[] readNpyMatrix(Path file, int expectRows, int expectDims) {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            ByteBuffer head = ByteBuffer.allocate(10).order(ByteOrder.LITTLE_ENDIAN);
            while (head.hasRemaining() && ch.read(head) >= 0) { }
            head.flip();
            if (head.remaining() < 10 || (head.get(0) & 0xff) != 0x93 || head.get(6) != 1) {
                throw badStore(file, "not a NumPy 1.0 .npy file");
            }
            int hlen = head.getShort(8) & 0xffff;
            ByteBuffer hb = ByteBuffer.allocate(hlen);
            while (hb.hasRemaining() && ch.read(hb) >= 0) { }
            String header = new String(hb.array(), StandardCharsets.ISO_8859_1);
            java.util.regex.Matcher m = SHAPE.matcher(header);
            if (!header.contains("'<f4'") || header.contains("'fortran_order': True") || !m.find()) {
                throw badStore(file, "expected a little-endian float32 C-order matrix, header is " + header.strip());
            }
            int rows = Integer.parseInt(m.group(1)), dims = Integer.parseInt(m.group(2));
            if (rows != expectRows || dims != expectDims) {
                throw badStore(file, "holds " + rows + "×" + dims + " values, the manifest says " + expectRows + "×" + expectDims);
            }
            long bytes = (long) rows * dims * 4;
            if (ch.size() - 10 - hlen != bytes) throw badStore(file, "is cut short or too long for " + rows + " faces");
            ByteBuffer data = ByteBuffer.allocate((int) bytes).order(ByteOrder.LITTLE_ENDIAN);
            while (data.hasRemaining() && ch.read(data) >= 0) { }
            data.flip();
            float[] out = new float[rows * dims];
            data.asFloatBuffer().get(out);
            return out;
        } catch (NoSuchFileException e) {
            throw badStore(file, "is missing");
        } catch (IOException e) {
            throw new KitException("cannot read " + file + ": " + e.getMessage(), "check the file's permissions", e);
        }
    }

    private void loadSegments(Path manifestFile) {
        try {
            manifest = JsonFiles.readObject(manifestFile);
        } catch (IOException e) {
            throw new KitException("cannot read " + manifestFile + ": " + e.getMessage(), "check the file's permissions", e);
        }
        JsonNode segs = manifest.path("segments");
        if (!segs.isArray()) throw badStore(manifestFile, "has no \"segments\" list");
        for (JsonNode seg : segs) {
            String name = seg.path("name").asText("");
            int count = seg.path("count").asInt(-1), dims = seg.path("dims").asInt(-1);
            if (name.isEmpty() || count < 0 || dims <= 0) throw badStore(manifestFile, "has a segment without name/count/dims: " + seg);
            Path npy = folder().resolve(name + ".npy"), jsonl = folder().resolve(name + ".jsonl");
            float[] matrix = readNpyMatrix(npy, count, dims);
            List<ObjectNode> lines = readLines(jsonl);
            if (lines.size() != count) throw badStore(jsonl, "has " + lines.size() + " faces, " + npy.getFileName() + " has " + count);
            List<String> ids = new ArrayList<>(count);
            segmentIds.add(ids);
            for (int i = 0; i < count; i++) {
                ObjectNode line = lines.get(i);
                float[] mu = Arrays.copyOfRange(matrix, i * dims, (i + 1) * dims);
                Face f = faceOf(line, mu, jsonl, i + 1);
                ids.add(f.faceId());
                put(f, line);
            }
        }
    }

    /** Plain doubles are exact here (every number was written from a double), and much quicker than decimals. */
    private static final com.fasterxml.jackson.databind.ObjectMapper LINES = new com.fasterxml.jackson.databind.ObjectMapper();

    private static List<ObjectNode> readLines(Path jsonl) {
        List<ObjectNode> out = new ArrayList<>();
        // One streaming parser over the whole file: 100k lines load in a fraction of a second.
        try (var it = LINES.readerFor(JsonNode.class).<JsonNode>readValues(jsonl.toFile())) {
            while (it.hasNextValue()) {
                JsonNode node = it.nextValue();
                if (!node.isObject()) throw badStore(jsonl, "line " + (out.size() + 1) + " is not a JSON object");
                out.add((ObjectNode) node);
            }
        } catch (java.io.FileNotFoundException | NoSuchFileException e) {
            throw badStore(jsonl, "is missing");
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw badStore(jsonl, "is not valid JSON lines (face " + (out.size() + 1) + ": " + e.getOriginalMessage() + ")");
        } catch (IOException e) {
            throw new KitException("cannot read " + jsonl + ": " + e.getMessage(), "check the file's permissions", e);
        }
        return out;
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

    private void put(Face f, ObjectNode line) {
        faces.put(f.faceId(), f);
        meta.put(f.faceId(), line);
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

    // ------------------------------------------------------------------ the legacy pickled file

    /** A face read from the legacy file, with its JSON line holding the original double values. */
    record LegacyFace(Face face, ObjectNode meta) {}

    /** Every face of a legacy embeddings.npy, in file order (data-files.md, "embeddings.npy"). */
    public static List<LegacyFace> readLegacy(Path file) {
        List<Map<String, Object>> dicts = NpyPickleReader.readDicts(file);
        Map<String, Integer> perFilename = new HashMap<>();
        List<LegacyFace> out = new ArrayList<>(dicts.size());
        for (int i = 0; i < dicts.size(); i++) {
            Map<String, Object> d = dicts.get(i);
            String where = file + " entry " + i;
            String filename = d.get("filename") instanceof String s ? s : null;
            if (filename == null) throw legacyBad(where, "has no filename");
            // The i-th face of a photo counts every entry of that filename, in file order.
            int index = perFilename.merge(filename, 1, Integer::sum) - 1;
            String faceId = d.get("face_id") instanceof String s && !s.isEmpty() ? s : stem(filename) + ":face" + index;

            Object vec = d.containsKey("mu") ? d.get("mu") : d.get("embedding");
            if (!(vec instanceof NpyPickleReader.FloatArray mu)) throw legacyBad(where, "(" + faceId + ") has no mu/embedding vector");
            double detScore = number(d.get("det_score"), where, "det_score");
            double sigmaSq;
            if (d.get("sigma_sq") instanceof NpyPickleReader.FloatArray s && s.values().length > 0) {
                sigmaSq = s.values()[0];
            } else if (d.get("sigma_sq") instanceof Number n) {
                sigmaSq = n.doubleValue();
            } else {
                sigmaSq = 1.0 - 0.9 * detScore; // very old entries: the rule the earlier pipeline used
            }
            double[] bbox = doubles(d.get("bbox"), where);
            double quality = d.get("quality") instanceof Number q ? q.doubleValue() : 0.0;
            String filepath = d.get("filepath") instanceof String s ? s : null;

            float[] fb = new float[bbox.length];
            for (int k = 0; k < bbox.length; k++) fb[k] = (float) bbox[k];
            Face face = new Face(faceId, filename, filepath, mu.values(), (float) sigmaSq, (float) detScore, fb, (float) quality, LEGACY_MODEL);

            ObjectNode line = JsonFiles.object();
            line.put("face_id", faceId);
            line.put("filename", filename);
            line.put("filepath", filepath);
            line.put("model", LEGACY_MODEL);
            line.put("sigma_sq", sigmaSq);
            line.put("det_score", detScore);
            ArrayNode b = line.putArray("bbox");
            for (double v : bbox) b.add(v);
            line.put("quality", quality);
            // Fields the kit does not know travel along when they are plain values.
            for (Map.Entry<String, Object> e : d.entrySet()) {
                if (line.has(e.getKey()) || Set.of("mu", "embedding", "sigma_sq").contains(e.getKey())) continue;
                Object v = e.getValue();
                if (v instanceof String s) line.put(e.getKey(), s);
                else if (v instanceof Long l) line.put(e.getKey(), l);
                else if (v instanceof Double x) line.put(e.getKey(), x);
                else if (v instanceof Boolean x) line.put(e.getKey(), x);
            }
            out.add(new LegacyFace(face, line));
        }
        return out;
    }

    /** The original double-precision values of a face as the store holds them (JSON line), or null. */
    public JsonNode metadata(String faceId) {
        ObjectNode m = meta.get(faceId);
        return m == null ? null : m.deepCopy();
    }

    /** Python's Path(name).stem: the base name without its last extension. */
    static String stem(String filename) {
        String base = filename.substring(Math.max(filename.lastIndexOf('/'), filename.lastIndexOf('\\')) + 1);
        int dot = base.lastIndexOf('.');
        return dot > 0 ? base.substring(0, dot) : base;
    }

    private static double number(Object o, String where, String key) {
        if (o instanceof Number n) return n.doubleValue();
        throw legacyBad(where, "has no numeric " + key);
    }

    private static double[] doubles(Object o, String where) {
        if (o instanceof List<?> l) {
            double[] out = new double[l.size()];
            for (int i = 0; i < out.length; i++) out[i] = number(l.get(i), where, "bbox value");
            return out;
        }
        if (o instanceof NpyPickleReader.Tuple t) return doubles(Arrays.asList(t.items()), where);
        if (o instanceof NpyPickleReader.FloatArray a) {
            double[] out = new double[a.values().length];
            for (int i = 0; i < out.length; i++) out[i] = a.values()[i];
            return out;
        }
        throw legacyBad(where, "has no bbox");
    }

    private static KitException legacyBad(String where, String detail) {
        return new KitException(where + " " + detail,
                "restore data/" + LEGACY_FILE + " from a backup; the kit never rewrites this file");
    }
}
