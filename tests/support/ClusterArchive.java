import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/**
 * A generated archive for step 4 at any size, the same for a given seed on every JDK
 * (java.util.Random and float arithmetic are specified exactly): confirmed people with
 * {@code facesPerPerson} faces each, then {@code newFaces} new faces each in its own INBOX,
 * SKIPPED or PROPOSED identity — most near a known person, some between two ("relatives"),
 * some near nobody — with the cases that decide a proposal's order: exact ties (one vector
 * in two people, a new face equal to a known one), a face in the same photo as a person's
 * face, a rejection ({@code identity:<id>} in negative_ids), an old-style {@code <stem>:faceN} id.
 *
 * <p>The vectors go either into the earlier pipeline's pickled {@code embeddings.npy}
 * (written here the way NumPy's np.save writes an object array; the kit only ever reads that
 * file) or into the kit's own segment store. Used by the cluster benchmark and ClusterSpeedTest.
 */
public final class ClusterArchive {
    private ClusterArchive() {}

    public enum Shape { LEGACY_PICKLE, STORE }

    /** Sizes: {@code people} × {@code facesPerPerson} confirmed faces, plus {@code newFaces}. */
    public record Size(int people, int facesPerPerson, int newFaces) {
        public int faces() {
            return people * facesPerPerson + newFaces;
        }

        /** About {@code total} faces: 1,500 new ones (fewer for small archives), the rest in people of 8 faces. */
        public static Size ofTotal(int total) {
            int fresh = Math.min(1500, Math.max(1, total / 10));
            return new Size(Math.max(2, (total - fresh) / 8), 8, fresh);
        }
    }

    /** Writes identities.json, photo_index.json and the embeddings (in the given shape) into dataDir. */
    public static void write(Path dataDir, Size size, long seed, Shape shape) throws IOException {
        Files.createDirectories(dataDir);
        int dims = 512;
        Random r = new Random(seed);
        float[][] centres = new float[size.people()][];
        for (int p = 0; p < centres.length; p++) centres[p] = unit(r, dims);

        ObjectNode doc = JsonFiles.object();
        doc.put("schema_version", 1);
        ObjectNode ids = doc.putObject("identities");
        ObjectNode index = JsonFiles.object();
        index.put("schema_version", 1);
        ObjectNode photos = index.putObject("photos");
        ObjectNode f2p = index.putObject("face_to_photo");
        List<EmbeddingStore.Face> faces = new ArrayList<>(size.faces());
        List<float[]> firstFace = new ArrayList<>();
        float[] previousFirst = null;
        for (int p = 0; p < size.people(); p++) {
            ObjectNode ident = identity(ids, "person-" + p, "Person " + p, "CONFIRMED");
            ArrayNode anchors = ident.putArray("anchor_ids"), candidates = ident.putArray("candidate_ids");
            for (int k = 0; k < size.facesPerPerson(); k++) {
                // Every tenth person's last face is the previous person's first: an exact tie between two people.
                float[] v = p % 10 == 7 && k == size.facesPerPerson() - 1 && previousFirst != null ? previousFirst.clone()
                        : near(centres[p], 0.3 + 0.4 * r.nextDouble(), r);
                String file = "p" + p + "_" + k + ".jpg";
                // Old-style ids (the legacy file derives "<stem>:face0" from the file name) and inbox ids, mixed.
                String fid = k % 2 == 0 ? "p" + p + "_" + k + ":face0" : String.format("inbox_%012x", (long) p * 64 + k);
                (k == 0 ? anchors : candidates).add(fid);
                faces.add(face(fid, file, v, k % 2 == 0 ? null : fid));
                String photo = String.format("%016x", (long) p * 64 + k);
                photos.putObject(photo).put("path", file).putArray("face_ids").add(fid);
                f2p.put(fid, photo);
                if (k == 0) firstFace.add(v);
            }
            previousFirst = firstFace.get(p);
        }
        for (int j = 0; j < size.newFaces(); j++) {
            String fid = String.format("inbox_%012x", 0x100000000L + j);
            String state = j % 3 == 0 ? "INBOX" : j % 3 == 1 ? "SKIPPED" : "PROPOSED";
            ObjectNode ident = identity(ids, "new-" + j, "Unidentified Person " + String.format("%03d", j), state);
            ident.putArray("anchor_ids").add(fid);
            ident.putArray("candidate_ids");
            int p = r.nextInt(size.people()), q = (p + 1) % size.people();
            float[] v;
            if (j % 97 == 3) v = firstFace.get(p).clone();                                   // distance 0
            else if (j % 10 < 6) v = near(centres[p], 0.3 + 2.7 * r.nextDouble(), r);        // someone known
            else if (j % 10 < 8) v = near(mix(centres[p], centres[q]), 0.2 + 1.2 * r.nextDouble(), r); // between two
            else v = unit(r, dims);                                                          // nobody
            if (j % 40 == 1) ident.putArray("negative_ids").add("identity:person-" + p);      // rejected before
            String file = "new_" + j + ".jpg";
            faces.add(face(fid, file, v, fid));
            // Every 50th new face sits in the photo of its person's first face: never proposed for that person.
            String photo = j % 50 == 0 ? String.format("%016x", (long) p * 64) : String.format("%016x", 0x100000000L + j);
            if (j % 50 != 0) photos.putObject(photo).put("path", file).putArray("face_ids").add(fid);
            else ((ArrayNode) photos.path(photo).path("face_ids")).add(fid);
            f2p.put(fid, photo);
        }
        JsonFiles.write(dataDir.resolve("identities.json"), doc);
        JsonFiles.write(dataDir.resolve("photo_index.json"), index);
        if (shape == Shape.STORE) EmbeddingStore.open(dataDir).append(faces);
        else Files.write(dataDir.resolve(EmbeddingStore.LEGACY_FILE), legacyNpy(faces));
    }

    static EmbeddingStore.Face face(String id, String file, float[] mu, String storedId) {
        return new EmbeddingStore.Face(id, file, "/home/volunteer/raw_photos/" + file, mu, 0.3f, 0.98f,
                new float[] {10, 10, 110, 130}, 21.5f, EmbeddingStore.LEGACY_MODEL);
    }

    // ------------------------------------------------------------------ the legacy pickle

    /**
     * The faces as the earlier pipeline's np.save wrote them: a NumPy 1.0 file whose object
     * array is a protocol-3 pickle of a list of dicts (mu, sigma_sq float32[512]; det_score,
     * quality floats; bbox a list; filename, filepath; face_id only where {@code storedId}).
     */
    public static byte[] legacyNpy(List<EmbeddingStore.Face> faces) {
        Pickle p = new Pickle();
        p.op(0x80).op(3);
        // _reconstruct(ndarray, (0,), b'b') then BUILD (1, (n,), dtype('O8'), False, [dicts])
        p.reconstruct();
        p.op('(').op('K').op(1).intTuple(faces.size()).dtype("O8", "|").op(0x89);
        p.op(']').op('(');
        for (EmbeddingStore.Face f : faces) {
            p.op('}').op('(');
            p.str("mu").floatArray(f.mu());
            float[] sigma = new float[f.mu().length];
            java.util.Arrays.fill(sigma, f.sigmaSq());
            p.str("sigma_sq").floatArray(sigma);
            p.str("det_score").dbl(f.detScore());
            p.str("bbox").op(']').op('(');
            for (float v : f.bbox()) p.dbl(v);
            p.op('e');
            p.str("filename").str(f.filename());
            p.str("filepath").str(f.filepath());
            p.str("quality").dbl(f.quality());
            if (f.faceId().startsWith("inbox_")) p.str("face_id").str(f.faceId());
            p.op('u');
        }
        p.op('e').op('t').op('b').op('.');
        byte[] pickle = p.out.toByteArray();
        String dict = "{'descr': '|O', 'fortran_order': False, 'shape': (" + faces.size() + ",), }";
        int unpadded = 10 + dict.length() + 1;
        int total = (unpadded + 63) / 64 * 64;
        String header = dict + " ".repeat(total - unpadded) + "\n";
        ByteBuffer b = ByteBuffer.allocate(total + pickle.length).order(ByteOrder.LITTLE_ENDIAN);
        b.put((byte) 0x93).put("NUMPY".getBytes(StandardCharsets.US_ASCII)).put((byte) 1).put((byte) 0);
        b.putShort((short) header.length()).put(header.getBytes(StandardCharsets.US_ASCII)).put(pickle);
        return b.array();
    }

    private static final class Pickle {
        final ByteArrayOutputStream out = new ByteArrayOutputStream(1 << 20);

        Pickle op(int b) {
            out.write(b);
            return this;
        }

        Pickle raw(byte[] b) {
            out.write(b, 0, b.length);
            return this;
        }

        Pickle i32(int v) {
            return op(v & 0xff).op(v >>> 8 & 0xff).op(v >>> 16 & 0xff).op(v >>> 24 & 0xff);
        }

        Pickle global(String module, String name) {
            return op('c').raw((module + "\n" + name + "\n").getBytes(StandardCharsets.US_ASCII));
        }

        Pickle str(String s) {
            byte[] b = s.getBytes(StandardCharsets.UTF_8);
            return op('X').i32(b.length).raw(b);
        }

        Pickle dbl(double v) {
            return op('G').raw(ByteBuffer.allocate(8).order(ByteOrder.BIG_ENDIAN).putDouble(v).array());
        }

        Pickle intTuple(int n) {
            return op('J').i32(n).op(0x85);
        }

        Pickle reconstruct() {
            global("numpy.core.multiarray", "_reconstruct").global("numpy", "ndarray");
            op('K').op(0).op(0x85).op('C').op(1).op('b').op(0x87).op('R');
            return this;
        }

        /** dtype(code, False, True) with BUILD (3, order, None, None, None, -1, -1, 0), as NumPy pickles it. */
        Pickle dtype(String code, String order) {
            global("numpy", "dtype").str(code).op(0x89).op(0x88).op(0x87).op('R');
            op('(').op('K').op(3).str(order).op('N').op('N').op('N').op('J').i32(-1).op('J').i32(-1).op('K').op(0).op('t').op('b');
            return this;
        }

        Pickle floatArray(float[] v) {
            reconstruct();
            op('(').op('K').op(1).intTuple(v.length).dtype("f4", "<").op(0x89);
            ByteBuffer b = ByteBuffer.allocate(v.length * 4).order(ByteOrder.LITTLE_ENDIAN);
            for (float x : v) b.putFloat(x);
            op('B').i32(v.length * 4).raw(b.array());
            return op('t').op('b');
        }
    }

    // ------------------------------------------------------------------ vectors

    static ObjectNode identity(ObjectNode ids, String id, String name, String state) {
        ObjectNode n = ids.putObject(id);
        n.put("identity_id", id);
        n.put("name", name);
        n.put("state", state);
        return n;
    }

    static float[] unit(Random r, int dims) {
        float[] v = new float[dims];
        for (int i = 0; i < dims; i++) v[i] = (float) r.nextGaussian();
        return normalise(v);
    }

    static float[] mix(float[] a, float[] b) {
        float[] v = new float[a.length];
        for (int i = 0; i < v.length; i++) v[i] = a[i] + b[i];
        return normalise(v);
    }

    /** A face of the same person: the centre plus noise of about the given length. */
    static float[] near(float[] centre, double noise, Random r) {
        float[] v = new float[centre.length];
        double scale = noise / Math.sqrt(centre.length);
        for (int i = 0; i < v.length; i++) v[i] = (float) (centre[i] + scale * r.nextGaussian());
        return normalise(v);
    }

    static float[] normalise(float[] v) {
        double s = 0;
        for (float x : v) s += x * x;
        float inv = (float) (1 / Math.sqrt(s));
        for (int i = 0; i < v.length; i++) v[i] *= inv;
        return v;
    }
}
