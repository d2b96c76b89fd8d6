//DEPS com.fasterxml.jackson.core:jackson-databind:2.18.2
import com.fasterxml.jackson.databind.JsonNode;
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
import java.util.concurrent.CompletableFuture;

/**
 * Step 4's rules (matching-and-merge.md, "Clustering new faces against confirmed identities"):
 * every face of an unresolved identity (INBOX, PROPOSED, SKIPPED) is compared with every
 * confirmed identity, whose distance is the minimum over its faces (never a centroid); the
 * best one below the threshold becomes a proposal for a person to review. The nearest
 * identities come from {@link NearestIdentities}; the distances of the two reported are
 * recomputed in double precision. Applying proposals is {@link IdentityEdits}' part.
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
     * The faces step 4 compares, gathered once from identities.json and the store (each face id
     * looked up once): the confirmed identities with at least one embedded face, their faces
     * contiguous per identity, and the embedded faces of unresolved identities, in document order.
     */
    public static final class Faces {
        final JsonNode ids;
        final Map<String, String> faceToPhoto;
        final List<String> confirmedIds = new ArrayList<>(), confirmedNames = new ArrayList<>();
        final List<EmbeddingStore.Face> aFaces = new ArrayList<>();
        int[] rowIdentity = new int[64];
        int rowCount;
        final List<Set<String>> confirmedPhotos = new ArrayList<>();
        final Map<String, Integer> confirmedIndex = new HashMap<>();
        final List<EmbeddingStore.Face> bFaces = new ArrayList<>();
        final List<String> bSource = new ArrayList<>();
        int unresolvedIdentities;
        final List<String> missing = new ArrayList<>();
        /** The one embedding model of every face compared (and of unresolved faces too small to propose), or null. */
        final String model;

        private Faces(ObjectNode identitiesDoc, Map<String, String> faceToPhoto, EmbeddingStore store) {
            ids = identitiesDoc.path("identities");
            this.faceToPhoto = faceToPhoto;
            List<EmbeddingStore.Face> tooSmall = new ArrayList<>();
            for (var e : iterable(ids)) {
                JsonNode ident = e.getValue();
                if (Identities.isMerged(ident)) continue;
                String state = ident.path("state").asText();
                if ("CONFIRMED".equals(state)) addConfirmed(e.getKey(), ident, store);
                else if (UNRESOLVED_STATES.contains(state)) addUnresolved(e.getKey(), ident, store, tooSmall);
            }
            model = checkOneModel(aFaces, bFaces, tooSmall);
        }

        private void addConfirmed(String id, JsonNode ident, EmbeddingStore store) {
            List<EmbeddingStore.Face> fs = new ArrayList<>();
            Set<String> photos = new HashSet<>();
            for (String fid : Identities.faceIds(ident)) {
                photos.add(photoOf(fid, faceToPhoto));
                EmbeddingStore.Face f = store.get(fid);
                if (f != null) fs.add(f);
            }
            if (fs.isEmpty()) return;
            int c = confirmedIds.size();
            confirmedIndex.put(id, c);
            confirmedIds.add(id);
            confirmedNames.add(ident.path("name").asText(""));
            confirmedPhotos.add(photos);
            for (EmbeddingStore.Face f : fs) {
                aFaces.add(f);
                if (rowCount == rowIdentity.length) rowIdentity = Arrays.copyOf(rowIdentity, rowCount * 2);
                rowIdentity[rowCount++] = c;
            }
        }

        private void addUnresolved(String id, JsonNode ident, EmbeddingStore store, List<EmbeddingStore.Face> tooSmall) {
            unresolvedIdentities++;
            for (String fid : Identities.faceIds(ident)) {
                EmbeddingStore.Face f = store.get(fid);
                if (f == null) {
                    missing.add(fid);
                } else if (FaceQuality.lowQuality(f.bbox())) {
                    tooSmall.add(f);  // too few pixels to propose; a person can still name it
                } else {
                    bFaces.add(f);
                    bSource.add(id);
                }
            }
        }

        /** The one embedding model of the faces compared, or null when none has an embedding. */
        public String model() {
            return model;
        }
    }

    /**
     * Gathers the faces to compare. Refuses (KitException) when they come from different embedding
     * models, since their distances mean nothing.
     */
    public static Faces gather(ObjectNode identitiesDoc, Map<String, String> faceToPhoto, EmbeddingStore store) {
        return new Faces(identitiesDoc, faceToPhoto, store);
    }

    /** {@link #findMatches(Faces, MatchThresholds, double, CompletableFuture)} of the archive's documents and store. */
    public static Result findMatches(ObjectNode identitiesDoc, ObjectNode photoIndex, EmbeddingStore store,
                                     MatchThresholds labels, double threshold, CompletableFuture<DistanceTerms.Engine> engine) {
        return findMatches(gather(identitiesDoc, Identities.faceToPhoto(photoIndex), store), labels, threshold, engine);
    }

    /** Finds the proposals for the gathered faces, sorted by distance. */
    public static Result findMatches(Faces g, MatchThresholds labels, double threshold, CompletableFuture<DistanceTerms.Engine> engine) {
        JsonNode ids = g.ids;
        Map<String, String> faceToPhoto = g.faceToPhoto;
        List<String> missing = g.missing;
        List<String> confirmedIds = g.confirmedIds, confirmedNames = g.confirmedNames, bSource = g.bSource;
        List<EmbeddingStore.Face> aFaces = g.aFaces, bFaces = g.bFaces;
        List<Set<String>> confirmedPhotos = g.confirmedPhotos;
        Map<String, Integer> confirmedIndex = g.confirmedIndex;
        int[] rowIdentity = g.rowIdentity;
        int rowCount = g.rowCount, unresolvedIdentities = g.unresolvedIdentities;
        String model = g.model;
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
            Set<Integer> skip = new HashSet<>(identitiesByPhoto.getOrDefault(photoOf(bFaces.get(j).faceId(), faceToPhoto), List.of()));
            for (JsonNode n : ids.path(bSource.get(j)).path("negative_ids")) {
                String neg = n.asText();
                Integer c = neg.startsWith("identity:") ? confirmedIndex.get(neg.substring("identity:".length())) : null;
                if (c != null) skip.add(c);
            }
            for (int c : skip) excludedByIdentity.computeIfAbsent(c, k -> new ArrayList<>()).add(j);
        }

        float[][] a = vectors(aFaces), b = vectors(bFaces);
        int[] rows = Arrays.copyOf(rowIdentity, rowCount);
        int[][] excluded = new int[confirmedIds.size()][];
        excludedByIdentity.forEach((c, js) -> excluded[c] = js.stream().mapToInt(Integer::intValue).toArray());
        NearestIdentities.Nearest nearest = NearestIdentities.find(a, rows, confirmedIds.size(), b, excluded, DistanceTerms.await(engine));

        // 4. Proposals, with the reported distances recomputed exactly.
        int[] start = new int[confirmedIds.size() + 1];
        for (int r = rows.length - 1; r >= 0; r--) start[rows[r]] = r;
        start[confirmedIds.size()] = rows.length;
        double thresholdD2 = threshold * threshold;
        double[] bestD = new double[bFaces.size()], secondD = new double[bFaces.size()];
        // Each new face's two distances on its own: both cores share them.
        java.util.stream.IntStream.range(0, bFaces.size()).parallel().forEach(j -> {
            int best = nearest.best[j], second = nearest.second[j];
            // Surely at or beyond the threshold (the squared distance is known within nearest.bound): no proposal.
            if (best < 0 || nearest.bestD2[j] - nearest.bound > thresholdD2) {
                bestD[j] = Double.POSITIVE_INFINITY;
                return;
            }
            bestD[j] = FaceDistances.exactMin(a, start[best], end(rows, start, best), b[j]);
            secondD[j] = second < 0 ? Double.POSITIVE_INFINITY : FaceDistances.exactMin(a, start[second], end(rows, start, second), b[j]);
        });
        List<Proposal> proposals = new ArrayList<>();
        for (int j = 0; j < bFaces.size(); j++) {
            int best = nearest.best[j], second = nearest.second[j];
            double d = bestD[j];
            if (!(d < threshold)) continue;
            double d2 = secondD[j];
            double margin = (d == 0 || Double.isInfinite(d2)) ? Double.POSITIVE_INFINITY : (d2 - d) / d;
            boolean ambiguous = margin < 0.15 && d2 < threshold;
            JsonNode source = ids.path(bSource.get(j));
            proposals.add(new Proposal(bSource.get(j), source.path("name").asText(""), source.path("state").asText(),
                    confirmedIds.get(best), confirmedNames.get(best), bFaces.get(j).faceId(), d, labels.label(d),
                    margin, ambiguous, second < 0 ? null : confirmedIds.get(second), d2));
        }
        // 5. Closest first; equal distances (as written, 4 places) keep document order (a stable sort).
        // (Each rounding computed once: an exact decimal per comparison is most of the sort's time.)
        Map<Proposal, Double> key = new java.util.IdentityHashMap<>();
        for (Proposal p : proposals) key.put(p, round(p.distance(), 4));
        proposals.sort(Comparator.comparingDouble(key::get));
        return new Result(proposals, confirmedIds.size(), aFaces.size(), unresolvedIdentities, bFaces.size(), missing, model, threshold);
    }

    private static int end(int[] rows, int[] start, int c) {
        int e = start[c];
        while (e < rows.length && rows[e] == c) e++;
        return e;
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

    // ------------------------------------------------------------------ helpers

    /**
     * The photo of a face, as a key: face_to_photo's photo id (every face), else the "<stem>" of a
     * "<stem>:faceN" id, else the face itself. The fallbacks start with a NUL character, which no
     * photo id starts with (one that did would be marked the same way), so the kinds never meet;
     * and the common case is the photo id itself, not a new string per face.
     */
    static String photoOf(String faceId, Map<String, String> faceToPhoto) {
        String p = faceToPhoto.get(faceId);
        if (p != null) return p.isEmpty() || p.charAt(0) != '\0' ? p : "\0photo:" + p;
        int colon = faceId.lastIndexOf(':');
        return colon > 0 ? "\0stem:" + faceId.substring(0, colon) : "\0face:" + faceId;
    }

    private static Iterable<Map.Entry<String, JsonNode>> iterable(JsonNode obj) {
        return obj::fields;
    }

    @SafeVarargs
    private static String checkOneModel(List<EmbeddingStore.Face>... lists) {
        // Nearly always one model: the sets are made only when a face differs from the first.
        EmbeddingStore.Face first = null;
        for (List<EmbeddingStore.Face> l : lists) if (first == null && !l.isEmpty()) first = l.get(0);
        if (first == null) return null;
        boolean same = true;
        for (List<EmbeddingStore.Face> l : lists) {
            for (EmbeddingStore.Face f : l) same &= f.model().equals(first.model()) && f.mu().length == first.mu().length;
        }
        if (same) return first.model();
        Set<String> models = new LinkedHashSet<>();
        Set<Integer> dims = new HashSet<>();
        for (List<EmbeddingStore.Face> l : lists) {
            for (EmbeddingStore.Face f : l) {
                models.add(f.model());
                dims.add(f.mu().length);
            }
        }
        if (models.size() > 1 || dims.size() > 1) {
            throw new KitException("the faces to compare come from different embedding models (" + String.join(", ", models)
                    + "): their distances mean nothing across models",
                    "re-embed the archive with one model first: ./jbang steps/reembed.java");
        }
        return models.iterator().next();
    }

    /** The faces' vectors: the store's own arrays (checkOneModel made sure they are all of one length). */
    private static float[][] vectors(List<EmbeddingStore.Face> faces) {
        float[][] m = new float[faces.size()][];
        for (int i = 0; i < faces.size(); i++) m[i] = faces.get(i).mu();
        return m;
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
