import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The earlier pipeline's {@code data/embeddings.npy} (a pickled NumPy object array of dicts,
 * data-files.md "embeddings.npy") as the store's faces. Read only: the kit never rewrites this
 * file. The pickle itself is decoded by {@link NpyPickleReader}; this class turns its dicts
 * into faces and keeps each face's original double values in its JSON line.
 */
public final class LegacyEmbeddings {
    private LegacyEmbeddings() {}

    /** A face read from the legacy file, with its JSON line holding the original double values. */
    public record LegacyFace(EmbeddingStore.Face face, ObjectNode meta) {}

    /** The faces of a legacy file and the SHA-256 (hex) of the bytes they were read from. */
    public record Parsed(List<LegacyFace> faces, String sha256) {}

    /** Every face of a legacy embeddings.npy, in file order, tagged {@link EmbeddingStore#LEGACY_MODEL}. */
    public static List<LegacyFace> read(Path file) {
        return faces(NpyPickleReader.readDicts(file), file);
    }

    /** As {@link #read}, with the SHA-256 of exactly the bytes parsed (the converted copy records it). */
    public static Parsed readWithHash(Path file) {
        byte[] bytes;
        try {
            bytes = Files.readAllBytes(file);
        } catch (IOException e) {
            throw new KitException("cannot read " + file + ": " + e.getMessage(), "check the file's permissions", e);
        }
        List<LegacyFace> faces = faces(NpyPickleReader.readDicts(bytes, file.toString()), file);
        try {
            return new Parsed(faces, HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes)));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("this Java has no SHA-256", e);
        }
    }

    /**
     * What identifies this version of the file without reading it: size, modification time, and where
     * the system tells them, its change time (set by every write, and not by {@code touch -d}) and file
     * number. Any difference means "maybe changed": the file is read again (and hashed).
     */
    public static ObjectNode fingerprint(Path file) {
        ObjectNode n = JsonFiles.object();
        n.put("file", file.getFileName().toString());
        try {
            BasicFileAttributes a = Files.readAttributes(file, BasicFileAttributes.class);
            n.put("size", a.size());
            n.put("modified", a.lastModifiedTime().toString());
            try {
                Map<String, Object> unix = Files.readAttributes(file, "unix:ctime,ino,dev");
                n.put("changed", String.valueOf(unix.get("ctime")));
                n.put("file_number", String.valueOf(unix.get("ino")) + "@" + unix.get("dev"));
            } catch (UnsupportedOperationException | IllegalArgumentException e) {
                // no unix view (another system): size and modification time alone
            }
        } catch (IOException e) {
            n.put("unreadable", e.getMessage());
        }
        return n;
    }

    /** True when a recorded fingerprint (with its sha256) names the same version as a fresh one. */
    static boolean sameFile(com.fasterxml.jackson.databind.JsonNode recorded, ObjectNode now) {
        if (now.has("unreadable") || !recorded.isObject() || !recorded.path("sha256").isTextual()) return false;
        for (String key : List.of("file", "size", "modified", "changed", "file_number")) {
            if (!recorded.path(key).asText().equals(now.path(key).asText())) return false;
        }
        return true;
    }

    private static List<LegacyFace> faces(List<Map<String, Object>> dicts, Path file) {
        Map<String, Integer> perFilename = new HashMap<>();
        List<LegacyFace> out = new ArrayList<>(dicts.size());
        for (int i = 0; i < dicts.size(); i++) {
            Map<String, Object> d = dicts.get(i);
            String where = file + " entry " + i;
            String filename = d.get("filename") instanceof String s ? s : null;
            if (filename == null) throw bad(where, "has no filename");
            // The i-th face of a photo counts every entry of that filename, in file order.
            int index = perFilename.merge(filename, 1, Integer::sum) - 1;
            String faceId = d.get("face_id") instanceof String s && !s.isEmpty() ? s : stem(filename) + ":face" + index;

            Object vec = d.containsKey("mu") ? d.get("mu") : d.get("embedding");
            if (!(vec instanceof NpyPickleReader.FloatArray mu)) throw bad(where, "(" + faceId + ") has no mu/embedding vector");
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
            EmbeddingStore.Face face = new EmbeddingStore.Face(faceId, filename, filepath, mu.values(), (float) sigmaSq,
                    (float) detScore, fb, (float) quality, EmbeddingStore.LEGACY_MODEL);

            ObjectNode line = JsonFiles.object();
            line.put("face_id", faceId);
            line.put("filename", filename);
            line.put("filepath", filepath);
            line.put("model", EmbeddingStore.LEGACY_MODEL);
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

    /** Python's Path(name).stem: the base name without its last extension (not stripped, unlike Names.basename). */
    static String stem(String filename) {
        String base = filename.substring(Math.max(filename.lastIndexOf('/'), filename.lastIndexOf('\\')) + 1);
        int dot = base.lastIndexOf('.');
        return dot > 0 ? base.substring(0, dot) : base;
    }

    private static double number(Object o, String where, String key) {
        if (o instanceof Number n) return n.doubleValue();
        throw bad(where, "has no numeric " + key);
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
        throw bad(where, "has no bbox");
    }

    private static KitException bad(String where, String detail) {
        return new KitException(where + " " + detail,
                "restore data/" + EmbeddingStore.LEGACY_FILE + " from a backup; the kit never rewrites this file");
    }
}
