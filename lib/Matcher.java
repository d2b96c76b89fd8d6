//DEPS com.fasterxml.jackson.core:jackson-databind:2.18.2
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.math.BigDecimal;
import java.math.RoundingMode;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * Step 4's rules (matching-and-merge.md, "Clustering new faces against confirmed identities"):
 * every face of an unresolved identity (INBOX, PROPOSED, SKIPPED) is compared with every
 * confirmed identity, whose distance is the minimum over its faces (never a centroid); the
 * best one below the threshold becomes a proposal for a person to review.
 *
 * <p>Archive scale (100k faces) is handled as matrix work: the confirmed faces and the new
 * faces each sit in one contiguous float array, distances come from dot products
 * (|a-b|² = |a|² + |b|² - 2a·b) computed block by block on all cores, and the per-identity
 * minimum is folded in as the rows stream past, without one object per pair. The reported
 * distances of the winning identities are then recomputed exactly, in double precision.
 */
public final class Matcher {
    private Matcher() {}

    public static final Set<String> UNRESOLVED_STATES = Set.of("INBOX", "PROPOSED", "SKIPPED");

    /** A face → person proposal. margin is {@code Double.POSITIVE_INFINITY} when there is no second identity or best is 0. */
    public record Proposal(String sourceIdentityId, String sourceIdentityName, String sourceState,
                           String targetIdentityId, String targetIdentityName, String faceId,
                           double distance, String confidence, double margin, boolean ambiguous,
                           String secondIdentityId, double secondDistance) {
        /** As written in proposals.json (data-files.md): distance to 4 places, margin to 3, null = infinite. */
        public ObjectNode toJson() {
            ObjectNode n = JsonFiles.object();
            n.put("source_identity_id", sourceIdentityId);
            n.put("source_identity_name", sourceIdentityName);
            n.put("source_state", sourceState);
            n.put("target_identity_id", targetIdentityId);
            n.put("target_identity_name", targetIdentityName);
            n.put("face_id", faceId);
            n.set("distance", pythonFloat(round(distance, 4)));
            n.put("confidence", confidence);
            if (Double.isInfinite(margin)) n.putNull("margin");
            else n.set("margin", pythonFloat(round(margin, 3)));
            n.put("ambiguous", ambiguous);
            return n;
        }
    }

    /** A SKIPPED identity that a strong match lifts back into the review queue (rule 6). */
    public record Promotion(String identityId, String identityName, String context) {}

    /** What one matching pass found. */
    public record Result(List<Proposal> proposals, int confirmedIdentities, int confirmedFaces,
                         int unresolvedIdentities, int unresolvedFaces, List<String> facesWithoutEmbedding,
                         String model, double threshold) {}

    /**
     * Finds the proposals for the archive's documents and embedding store, sorted by distance.
     * Refuses (KitException) when the faces to compare come from different embedding models.
     */
    public static Result findMatches(ObjectNode identitiesDoc, ObjectNode photoIndex, EmbeddingStore store,
                                     MatchThresholds labels, double threshold) {
        JsonNode ids = identitiesDoc.path("identities");
        Map<String, String> faceToPhoto = faceToPhoto(photoIndex);
        List<String> missing = new ArrayList<>();

        // 1. Confirmed identities with at least one embedded face; their faces, contiguous per identity.
        List<String> confirmedIds = new ArrayList<>();
        List<String> confirmedNames = new ArrayList<>();
        List<EmbeddingStore.Face> aFaces = new ArrayList<>();
        int[] rowIdentity = new int[64];
        int rowCount = 0;
        List<Set<String>> confirmedPhotos = new ArrayList<>();
        Map<String, Integer> confirmedIndex = new HashMap<>();
        for (var e : iterable(ids)) {
            JsonNode ident = e.getValue();
            if (!"CONFIRMED".equals(ident.path("state").asText()) || isMerged(ident)) continue;
            List<EmbeddingStore.Face> fs = new ArrayList<>();
            Set<String> photos = new HashSet<>();
            for (String fid : faceIds(ident)) {
                photos.add(photoKey(fid, faceToPhoto));
                EmbeddingStore.Face f = store.get(fid);
                if (f != null) fs.add(f);
            }
            if (fs.isEmpty()) continue;
            int c = confirmedIds.size();
            confirmedIndex.put(e.getKey(), c);
            confirmedIds.add(e.getKey());
            confirmedNames.add(ident.path("name").asText(""));
            confirmedPhotos.add(photos);
            for (EmbeddingStore.Face f : fs) {
                aFaces.add(f);
                if (rowCount == rowIdentity.length) rowIdentity = Arrays.copyOf(rowIdentity, rowCount * 2);
                rowIdentity[rowCount++] = c;
            }
        }

        // 2. Faces of unresolved identities that have an embedding, in document order.
        List<EmbeddingStore.Face> bFaces = new ArrayList<>();
        List<String> bSource = new ArrayList<>();
        int unresolvedIdentities = 0;
        for (var e : iterable(ids)) {
            JsonNode ident = e.getValue();
            if (!UNRESOLVED_STATES.contains(ident.path("state").asText()) || isMerged(ident)) continue;
            unresolvedIdentities++;
            for (String fid : faceIds(ident)) {
                EmbeddingStore.Face f = store.get(fid);
                if (f == null) {
                    missing.add(fid);
                    continue;
                }
                bFaces.add(f);
                bSource.add(e.getKey());
            }
        }

        String model = checkOneModel(aFaces, bFaces);
        if (aFaces.isEmpty() || bFaces.isEmpty()) {
            return new Result(List.of(), confirmedIds.size(), aFaces.size(), unresolvedIdentities, bFaces.size(), missing, model, threshold);
        }

        // 3. Exclusions: rejection memory and co-occurrence (same photo), as (new face, identity) pairs,
        //    found through indexes so the work grows with the faces, not with faces × people.
        Map<String, List<Integer>> identitiesByPhoto = new HashMap<>();
        for (int c = 0; c < confirmedIds.size(); c++) {
            for (String photo : confirmedPhotos.get(c)) identitiesByPhoto.computeIfAbsent(photo, k -> new ArrayList<>()).add(c);
        }
        Map<Integer, List<Integer>> excludedByIdentity = new HashMap<>();
        for (int j = 0; j < bFaces.size(); j++) {
            Set<Integer> skip = new HashSet<>(identitiesByPhoto.getOrDefault(photoKey(bFaces.get(j).faceId(), faceToPhoto), List.of()));
            for (JsonNode n : ids.path(bSource.get(j)).path("negative_ids")) {
                String neg = n.asText();
                Integer c = neg.startsWith("identity:") ? confirmedIndex.get(neg.substring("identity:".length())) : null;
                if (c != null) skip.add(c);
            }
            for (int c : skip) excludedByIdentity.computeIfAbsent(c, k -> new ArrayList<>()).add(j);
        }

        int dims = aFaces.get(0).mu().length;
        float[] a = matrix(aFaces, dims);
        float[] b = matrix(bFaces, dims);
        int[] rows = Arrays.copyOf(rowIdentity, rowCount);
        int[][] excluded = new int[confirmedIds.size()][];
        excludedByIdentity.forEach((c, js) -> excluded[c] = js.stream().mapToInt(Integer::intValue).toArray());
        Nearest nearest = nearestIdentities(a, rows, confirmedIds.size(), b, dims, excluded);

        // 4. Proposals, with the reported distances recomputed exactly.
        int[] start = new int[confirmedIds.size() + 1];
        for (int r = rows.length - 1; r >= 0; r--) start[rows[r]] = r;
        start[confirmedIds.size()] = rows.length;
        List<Proposal> proposals = new ArrayList<>();
        for (int j = 0; j < bFaces.size(); j++) {
            int best = nearest.best[j];
            if (best < 0) continue;
            double d = exactMin(a, start[best], end(rows, start, best), b, j, dims);
            if (!(d < threshold)) continue;
            int second = nearest.second[j];
            double d2 = second < 0 ? Double.POSITIVE_INFINITY : exactMin(a, start[second], end(rows, start, second), b, j, dims);
            double margin = (d == 0 || Double.isInfinite(d2)) ? Double.POSITIVE_INFINITY : (d2 - d) / d;
            boolean ambiguous = margin < 0.15 && d2 < threshold;
            JsonNode source = ids.path(bSource.get(j));
            proposals.add(new Proposal(bSource.get(j), source.path("name").asText(""), source.path("state").asText(),
                    confirmedIds.get(best), confirmedNames.get(best), bFaces.get(j).faceId(), d, labels.label(d),
                    margin, ambiguous, second < 0 ? null : confirmedIds.get(second), d2));
        }
        // 5. Closest first; equal distances (as written, 4 places) keep document order (a stable sort).
        proposals.sort(Comparator.comparingDouble(p -> round(p.distance(), 4)));
        return new Result(proposals, confirmedIds.size(), aFaces.size(), unresolvedIdentities, bFaces.size(), missing, model, threshold);
    }

    private static int end(int[] rows, int[] start, int c) {
        int e = start[c];
        while (e < rows.length && rows[e] == c) e++;
        return e;
    }

    /**
     * The one embedding model of the faces step 4 would compare (confirmed and unresolved
     * identities), or null when none has an embedding. Mixed models are refused, since their
     * distances mean nothing.
     */
    public static String modelOf(ObjectNode identitiesDoc, EmbeddingStore store) {
        List<EmbeddingStore.Face> involved = new ArrayList<>();
        for (var e : iterable(identitiesDoc.path("identities"))) {
            JsonNode ident = e.getValue();
            String state = ident.path("state").asText();
            if (isMerged(ident) || !(state.equals("CONFIRMED") || UNRESOLVED_STATES.contains(state))) continue;
            for (String fid : faceIds(ident)) {
                EmbeddingStore.Face f = store.get(fid);
                if (f != null) involved.add(f);
            }
        }
        return checkOneModel(involved, List.of());
    }

    /** Rule 6: SKIPPED sources with a VERY HIGH or HIGH match and no promoted_from yet, once each. */
    public static List<Promotion> promotions(ObjectNode identitiesDoc, List<Proposal> proposals) {
        List<Promotion> out = new ArrayList<>();
        Set<String> seen = new HashSet<>();
        JsonNode ids = identitiesDoc.path("identities");
        for (Proposal p : proposals) {
            if (!"SKIPPED".equals(p.sourceState())) continue;
            if (!p.confidence().equals("VERY HIGH") && !p.confidence().equals("HIGH")) continue;
            JsonNode source = ids.path(p.sourceIdentityId());
            JsonNode already = source.get("promoted_from");
            if ((already != null && !already.isNull()) || !seen.add(p.sourceIdentityId())) continue;
            out.add(new Promotion(p.sourceIdentityId(), p.sourceIdentityName(), "Matches " + p.targetIdentityName()
                    + " at distance " + fixed(p.distance(), 3) + " (" + p.confidence() + ")"));
        }
        return out;
    }

    /** Writes promotions into the document (skipping identities merged away meanwhile); returns how many. */
    public static int applyPromotions(ObjectNode identitiesDoc, List<Promotion> promotions, String now) {
        int n = 0;
        JsonNode ids = identitiesDoc.path("identities");
        for (Promotion p : promotions) {
            JsonNode node = ids.get(p.identityId());
            if (!(node instanceof ObjectNode ident) || isMerged(ident)) continue;
            ident.put("promoted_from", "SKIPPED");
            ident.put("promoted_at", now);
            ident.put("promotion_reason", "confirmed_match");
            ident.put("promotion_context", p.context());
            n++;
        }
        return n;
    }

    /**
     * Rule 8 (--execute): each face leaves its source's anchors/candidates and joins the target's
     * candidates; both get version_id + 1 and updated_at; a source left empty gets merged_into.
     * Proposals whose source or target is merged already are skipped. Returns how many were applied.
     */
    public static int applyProposals(ObjectNode identitiesDoc, List<Proposal> proposals, String now) {
        JsonNode ids = identitiesDoc.path("identities");
        int applied = 0;
        for (Proposal p : proposals) {
            if (!(ids.get(p.sourceIdentityId()) instanceof ObjectNode source)
                    || !(ids.get(p.targetIdentityId()) instanceof ObjectNode target)) continue;
            if (isMerged(source) || isMerged(target)) continue;
            removeFace(source, "anchor_ids", p.faceId());
            removeFace(source, "candidate_ids", p.faceId());
            ArrayNode candidates = target.has("candidate_ids") && target.get("candidate_ids").isArray()
                    ? (ArrayNode) target.get("candidate_ids") : target.putArray("candidate_ids");
            boolean present = false;
            for (JsonNode c : candidates) present |= p.faceId().equals(faceIdOf(c));
            if (!present) candidates.add(p.faceId());
            bump(source, now);
            bump(target, now);
            if (faceIds(source).isEmpty()) source.put("merged_into", p.targetIdentityId());
            applied++;
        }
        return applied;
    }

    private static void bump(ObjectNode ident, String now) {
        ident.put("version_id", ident.path("version_id").asLong(0) + 1);
        ident.put("updated_at", now);
    }

    private static void removeFace(ObjectNode ident, String key, String faceId) {
        JsonNode list = ident.get(key);
        if (list == null || !list.isArray()) return;
        ArrayNode arr = (ArrayNode) list;
        for (int i = arr.size() - 1; i >= 0; i--) if (faceId.equals(faceIdOf(arr.get(i)))) arr.remove(i);
    }

    // ------------------------------------------------------------------ identity helpers

    /** An identity with merged_into set (non-null, non-empty) was merged away: skip it everywhere. */
    public static boolean isMerged(JsonNode ident) {
        JsonNode m = ident.get("merged_into");
        return m != null && !m.isNull() && !m.asText("").isEmpty();
    }

    /** A face id from an anchor entry: a string, or an object {"face_id": ...}. */
    public static String faceIdOf(JsonNode entry) {
        if (entry == null || entry.isNull()) return null;
        if (entry.isTextual()) return entry.asText();
        JsonNode f = entry.get("face_id");
        return f == null || f.isNull() ? null : f.asText();
    }

    /** Anchors then candidates, each face once, in document order. */
    public static List<String> faceIds(JsonNode ident) {
        LinkedHashSet<String> out = new LinkedHashSet<>();
        for (JsonNode a : ident.path("anchor_ids")) {
            String id = faceIdOf(a);
            if (id != null) out.add(id);
        }
        for (JsonNode c : ident.path("candidate_ids")) {
            String id = faceIdOf(c);
            if (id != null) out.add(id);
        }
        return new ArrayList<>(out);
    }

    public static Map<String, String> faceToPhoto(ObjectNode photoIndex) {
        Map<String, String> out = new HashMap<>();
        if (photoIndex == null) return out;
        for (var e : iterable(photoIndex.path("face_to_photo"))) out.put(e.getKey(), e.getValue().asText());
        return out;
    }

    /** The photo of a face: face_to_photo (every face), else the "<stem>" of a "<stem>:faceN" id. */
    static String photoKey(String faceId, Map<String, String> faceToPhoto) {
        String p = faceToPhoto.get(faceId);
        if (p != null) return "photo:" + p;
        int colon = faceId.lastIndexOf(':');
        return colon > 0 ? "stem:" + faceId.substring(0, colon) : "face:" + faceId;
    }

    private static Iterable<Map.Entry<String, JsonNode>> iterable(JsonNode obj) {
        return obj::fields;
    }

    private static String checkOneModel(List<EmbeddingStore.Face> a, List<EmbeddingStore.Face> b) {
        Set<String> models = new LinkedHashSet<>();
        for (EmbeddingStore.Face f : a) models.add(f.model());
        for (EmbeddingStore.Face f : b) models.add(f.model());
        Set<Integer> dims = new HashSet<>();
        for (EmbeddingStore.Face f : a) dims.add(f.mu().length);
        for (EmbeddingStore.Face f : b) dims.add(f.mu().length);
        if (models.size() > 1 || dims.size() > 1) {
            throw new KitException("the faces to compare come from different embedding models (" + String.join(", ", models)
                    + "): their distances mean nothing across models",
                    "re-embed the archive with one model first: ./jbang steps/reembed.java");
        }
        return models.isEmpty() ? null : models.iterator().next();
    }

    // ------------------------------------------------------------------ the matrix work

    /** Euclidean distance of two vectors stored at offsets of flat arrays, in double precision. */
    public static double euclidean(float[] x, int xo, float[] y, int yo, int dims) {
        double s = 0;
        for (int k = 0; k < dims; k++) {
            double d = (double) x[xo + k] - y[yo + k];
            s += d * d;
        }
        return Math.sqrt(s);
    }

    private static double exactMin(float[] a, int from, int to, float[] b, int j, int dims) {
        double best = Double.POSITIVE_INFINITY;
        for (int r = from; r < to; r++) best = Math.min(best, euclidean(a, r * dims, b, j * dims, dims));
        return best;
    }

    static float[] matrix(List<EmbeddingStore.Face> faces, int dims) {
        float[] m = new float[faces.size() * dims];
        for (int i = 0; i < faces.size(); i++) System.arraycopy(faces.get(i).mu(), 0, m, i * dims, dims);
        return m;
    }

    /** For each new face: the nearest and second-nearest identity (index, or -1) and squared distances. */
    public static final class Nearest {
        public final int[] best, second;
        public final float[] bestD2, secondD2;

        Nearest(int n) {
            best = new int[n];
            second = new int[n];
            bestD2 = new float[n];
            secondD2 = new float[n];
            Arrays.fill(best, -1);
            Arrays.fill(second, -1);
            Arrays.fill(bestD2, Float.POSITIVE_INFINITY);
            Arrays.fill(secondD2, Float.POSITIVE_INFINITY);
        }
    }

    /** New faces per block: the transposed block (dims × BLOCK floats, 512 KB) stays in the L2 cache. */
    static final int BLOCK = 256;

    /**
     * a: archive faces (rows grouped by identity: rowIdentity is non-decreasing runs), b: new faces,
     * both row-major with {@code dims} columns. excluded[c] lists the new faces that may not be
     * matched to identity c (or null). Identity distance = min over its rows.
     */
    public static Nearest nearestIdentities(float[] a, int[] rowIdentity, int identities, float[] b, int dims, int[][] excluded) {
        int nb = b.length / dims;
        Nearest out = new Nearest(nb);
        float[] na = norms(a, dims), nbn = norms(b, dims);
        int blocks = (nb + BLOCK - 1) / BLOCK;
        int threads = Math.max(1, Math.min(blocks, Runtime.getRuntime().availableProcessors()));
        if (threads == 1) {
            for (int blk = 0; blk < blocks; blk++) block(a, na, rowIdentity, b, nbn, dims, blk * BLOCK, Math.min(nb, (blk + 1) * BLOCK), excluded, out);
            return out;
        }
        ExecutorService pool = Executors.newFixedThreadPool(threads, r -> {
            Thread t = new Thread(r, "matcher");
            t.setDaemon(true);
            return t;
        });
        try {
            List<Future<?>> futures = new ArrayList<>();
            for (int blk = 0; blk < blocks; blk++) {
                int j0 = blk * BLOCK, j1 = Math.min(nb, (blk + 1) * BLOCK);
                futures.add(pool.submit(() -> block(a, na, rowIdentity, b, nbn, dims, j0, j1, excluded, out)));
            }
            for (Future<?> f : futures) f.get();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("matching was interrupted", e);
        } catch (java.util.concurrent.ExecutionException e) {
            throw new IllegalStateException("matching failed", e.getCause());
        } finally {
            pool.shutdownNow();
        }
        return out;
    }

    private static float[] norms(float[] m, int dims) {
        int n = m.length / dims;
        float[] out = new float[n];
        for (int i = 0; i < n; i++) {
            double s = 0;
            for (int k = 0; k < dims; k++) s += (double) m[i * dims + k] * m[i * dims + k];
            out[i] = (float) s;
        }
        return out;
    }

    /** One block of new faces [j0, j1) against every archive row. */
    private static void block(float[] a, float[] na, int[] rowIdentity, float[] b, float[] nb, int dims,
                              int j0, int j1, int[][] excluded, Nearest out) {
        int bs = j1 - j0;
        // Transposed, one array per dimension, so the inner loop is a plain multiply-add over
        // arrays starting at index 0: the form the JIT turns into SIMD instructions.
        float[][] bt = new float[dims][bs];
        for (int j = 0; j < bs; j++) for (int k = 0; k < dims; k++) bt[k][j] = b[(j0 + j) * dims + k];
        float[] nbBlock = Arrays.copyOfRange(nb, j0, j1);
        float[] dot = new float[bs];
        float[] minD2 = new float[bs];
        boolean[] skip = new boolean[bs];
        int current = -1;
        for (int i = 0; i < rowIdentity.length; i++) {
            int c = rowIdentity[i];
            if (c != current) {
                if (current >= 0) fold(current, minD2, skip, excluded, j0, bs, out);
                current = c;
                Arrays.fill(minD2, Float.POSITIVE_INFINITY);
            }
            Arrays.fill(dot, 0f);
            int o = i * dims;
            for (int k = 0; k < dims; k++) axpy(a[o + k], bt[k], dot, bs);
            float nai = na[i];
            for (int j = 0; j < bs; j++) minD2[j] = Math.min(minD2[j], nai + nbBlock[j] - 2f * dot[j]);
        }
        if (current >= 0) fold(current, minD2, skip, excluded, j0, bs, out);
    }

    /** acc += x * y, element by element. */
    private static void axpy(float x, float[] y, float[] acc, int n) {
        for (int j = 0; j < n; j++) acc[j] += x * y[j];
    }

    /** Identity c's minimum over its rows is complete: update each new face's best and second. */
    private static void fold(int c, float[] minD2, boolean[] skip, int[][] excluded, int j0, int bs, Nearest out) {
        int[] ex = excluded[c];
        if (ex != null) for (int j : ex) if (j >= j0 && j < j0 + bs) skip[j - j0] = true;
        for (int j = 0; j < bs; j++) {
            if (skip[j]) continue;
            float v = minD2[j];
            int g = j0 + j;
            if (v < out.bestD2[g]) {
                out.secondD2[g] = out.bestD2[g];
                out.second[g] = out.best[g];
                out.bestD2[g] = v;
                out.best[g] = c;
            } else if (v < out.secondD2[g]) {
                out.secondD2[g] = v;
                out.second[g] = c;
            }
        }
        if (ex != null) for (int j : ex) if (j >= j0 && j < j0 + bs) skip[j - j0] = false;
    }

    /** A number node printed as Python prints a float: shortest form, plain digits, at least one decimal. */
    public static com.fasterxml.jackson.databind.node.DecimalNode pythonFloat(double v) {
        BigDecimal d = new BigDecimal(Double.toString(v)).stripTrailingZeros();
        if (d.scale() < 1) d = d.setScale(1);
        return new com.fasterxml.jackson.databind.node.DecimalNode(d);
    }

    /** Python's f"{v:.Nf}": the exact binary value rounded half-to-even. */
    public static String fixed(double v, int places) {
        if (Double.isNaN(v) || Double.isInfinite(v)) return Double.isNaN(v) ? "nan" : v > 0 ? "inf" : "-inf";
        return new BigDecimal(v).setScale(places, RoundingMode.HALF_EVEN).toPlainString();
    }

    static double round(double v, int places) {
        if (Double.isNaN(v) || Double.isInfinite(v)) return v;
        // Python's round() on the double: half-to-even on the exact binary value.
        return new BigDecimal(v).setScale(places, RoundingMode.HALF_EVEN).doubleValue();
    }
}
