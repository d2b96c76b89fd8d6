import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * What a person decided about step 4's proposals, one face at a time, and how those decisions
 * land in identities.json.
 *
 * <p>The decisions file {@code data/review/decisions-<run>.json} is rewritten atomically after
 * every single decision, so a closed tab, a crash or a kill -9 loses nothing: the next review
 * of the same run starts from it. Each decision remembers the versions of the two identities
 * it was made on; applying refuses a decision whose face or identities changed since.
 */
public final class ReviewDecisions {

    public enum Decision {
        ACCEPT, REJECT, SKIP;

        public String json() {
            return name().toLowerCase(Locale.ROOT);
        }

        /** "accept" / "reject" / "skip" (any case), else null. */
        public static Decision parse(String s) {
            if (s == null) return null;
            for (Decision d : values()) if (d.json().equalsIgnoreCase(s.strip())) return d;
            return null;
        }
    }

    /**
     * proposals.json as step 4 wrote it. {@code run} names the decisions file: the file's own
     * "run" when it has one, else its generated_at as YYYYMMDD-HHMMSS (UTC).
     */
    public record ProposalSet(Path file, String run, String generatedAt, List<Matcher.Proposal> proposals) {
        /** The review's order: grouped by person, the person of the closest proposal first; closest first within. */
        public List<Matcher.Proposal> reviewOrder() {
            Map<String, List<Matcher.Proposal>> byPerson = new LinkedHashMap<>();
            List<Matcher.Proposal> sorted = new ArrayList<>(proposals);
            sorted.sort(java.util.Comparator.comparingDouble(Matcher.Proposal::distance));
            for (Matcher.Proposal p : sorted) byPerson.computeIfAbsent(p.targetIdentityId(), k -> new ArrayList<>()).add(p);
            List<Matcher.Proposal> out = new ArrayList<>();
            byPerson.values().forEach(out::addAll);
            return out;
        }

        public Matcher.Proposal byFace(String faceId) {
            for (Matcher.Proposal p : proposals) if (p.faceId().equals(faceId)) return p;
            return null;
        }
    }

    /** One decision as stored; versions are those of the identities when it was made (null = unknown). */
    public record Entry(String faceId, Decision decision, String sourceIdentityId, String targetIdentityId,
                        Long sourceVersion, Long targetVersion, String decidedAt, String appliedAt) {}

    public record Counts(int accepted, int rejected, int skipped, int left) {}

    public static final String PROPOSALS = "proposals.json";

    private final Path file;
    private final ProposalSet proposals;
    private final Map<String, Entry> entries = new LinkedHashMap<>();

    private ReviewDecisions(Path file, ProposalSet proposals) {
        this.file = file;
        this.proposals = proposals;
    }

    // ------------------------------------------------------------------ proposals.json

    /** Reads {@code data/proposals.json}; a missing or broken file is a KitException saying to run step 4. */
    public static ProposalSet loadProposals(Path dataDir) {
        Path f = dataDir.resolve(PROPOSALS);
        ObjectNode doc;
        try {
            doc = JsonFiles.readObject(f);
        } catch (NoSuchFileException e) {
            throw new KitException("there are no proposals to review: " + f + " does not exist",
                    "run step 4 first: ./jbang cluster (it writes the proposals), then ./jbang review");
        } catch (KitException e) {
            throw new KitException(e.getMessage(), "run step 4 again (./jbang cluster) to write it anew", e);
        } catch (IOException e) {
            throw new KitException("cannot read " + f + ": " + e.getMessage(), "check the file's permissions", e);
        }
        String generatedAt = doc.path("generated_at").asText("");
        String run = doc.path("run").asText("");
        if (run.isEmpty()) run = runOf(generatedAt);
        if (run.isEmpty() || !run.matches("[A-Za-z0-9._-]+")) {
            throw new KitException(f + " has no usable \"generated_at\" (" + Names.printable(generatedAt) + ")",
                    "run step 4 again (./jbang cluster) to write it anew");
        }
        List<Matcher.Proposal> list = new ArrayList<>();
        for (JsonNode p : doc.path("proposals")) {
            String face = p.path("face_id").asText("");
            String source = p.path("source_identity_id").asText(""), target = p.path("target_identity_id").asText("");
            if (face.isEmpty() || source.isEmpty() || target.isEmpty()) {
                throw new KitException(f + " holds a proposal without face_id, source_identity_id or target_identity_id",
                        "run step 4 again (./jbang cluster) to write it anew");
            }
            JsonNode margin = p.get("margin");
            list.add(new Matcher.Proposal(source, p.path("source_identity_name").asText(""), p.path("source_state").asText(""),
                    target, p.path("target_identity_name").asText(""), face, p.path("distance").asDouble(Double.NaN),
                    p.path("confidence").asText(""), margin == null || margin.isNull() ? Double.POSITIVE_INFINITY : margin.asDouble(),
                    p.path("ambiguous").asBoolean(false), null, Double.NaN));
        }
        return new ProposalSet(f, run, generatedAt, Collections.unmodifiableList(list));
    }

    /** 2026-02-10T14:03:11.123456+00:00 -> 20260210-140311 (UTC, as step 4 names its review page). */
    static String runOf(String generatedAt) {
        try {
            return OffsetDateTime.parse(generatedAt).withOffsetSameInstant(ZoneOffset.UTC).format(Timestamps.LABEL);
        } catch (DateTimeParseException e) {
            return "";
        }
    }

    // ------------------------------------------------------------------ the decisions file

    public static Path fileFor(Path reviewDir, String run) {
        return reviewDir.resolve("decisions-" + run + ".json");
    }

    /**
     * The decisions of this run's proposals: those saved in {@code decisions-<run>.json}, or none yet.
     * A file written for other proposals (same name, another generated_at) is refused, never mixed in.
     */
    public static ReviewDecisions open(Path reviewDir, ProposalSet proposals) {
        Path f = fileFor(reviewDir, proposals.run());
        ReviewDecisions d = new ReviewDecisions(f, proposals);
        ObjectNode doc;
        try {
            doc = JsonFiles.readObject(f);
        } catch (NoSuchFileException e) {
            return d;
        } catch (KitException e) {
            throw new KitException(e.getMessage(), "the decisions file is damaged; move it aside to start this review afresh", e);
        } catch (IOException e) {
            throw new KitException("cannot read " + f + ": " + e.getMessage(), "check the file's permissions", e);
        }
        String made = doc.path("generated_at").asText("");
        if (!made.equals(proposals.generatedAt())) {
            throw new KitException(f + " holds decisions on other proposals (made " + Names.printable(made) + ", the proposals now are of "
                    + proposals.generatedAt() + ")", "move it aside, or run step 4 again");
        }
        for (var it = doc.path("decisions").fields(); it.hasNext(); ) {
            var e = it.next();
            JsonNode n = e.getValue();
            Decision dec = Decision.parse(n.path("decision").asText(null));
            if (dec == null || proposals.byFace(e.getKey()) == null) continue;
            d.entries.put(e.getKey(), new Entry(e.getKey(), dec, n.path("source_identity_id").asText(null),
                    n.path("target_identity_id").asText(null), n.hasNonNull("source_version") ? n.get("source_version").asLong() : null,
                    n.hasNonNull("target_version") ? n.get("target_version").asLong() : null,
                    n.path("decided_at").asText(null), n.hasNonNull("applied_at") ? n.get("applied_at").asText() : null));
        }
        return d;
    }

    public Path file() {
        return file;
    }

    public ProposalSet proposals() {
        return proposals;
    }

    public synchronized Entry get(String faceId) {
        return entries.get(faceId);
    }

    public synchronized List<Entry> entries() {
        return List.copyOf(entries.values());
    }

    /**
     * Records one decision (null clears it) and saves the file at once. {@code identities} is the
     * archive as the reviewer sees it: the two identities' versions are kept with the decision.
     * A decision already applied to identities.json cannot be changed here.
     */
    public synchronized Entry record(String faceId, Decision decision, JsonNode identities) throws IOException {
        Matcher.Proposal p = proposals.byFace(faceId);
        if (p == null) throw new IllegalArgumentException("no proposal for face " + faceId);
        Entry old = entries.get(faceId);
        if (old != null && old.appliedAt() != null) return old;
        if (decision == null) {
            entries.remove(faceId);
            save();
            return null;
        }
        JsonNode ids = identities.path("identities");
        Entry e = new Entry(faceId, decision, p.sourceIdentityId(), p.targetIdentityId(), version(ids.path(p.sourceIdentityId())),
                version(ids.path(p.targetIdentityId())), Timestamps.ledger(), null);
        entries.put(faceId, e);
        save();
        return e;
    }

    private static Long version(JsonNode ident) {
        return ident.isObject() ? ident.path("version_id").asLong(0) : null;
    }

    public synchronized Counts counts() {
        int a = 0, r = 0, s = 0;
        for (Entry e : entries.values()) {
            switch (e.decision()) {
                case ACCEPT -> a++;
                case REJECT -> r++;
                case SKIP -> s++;
            }
        }
        return new Counts(a, r, s, proposals.proposals().size() - a - r - s);
    }

    /** Marks these decisions applied (after identities.json was written) and saves. */
    public synchronized void markApplied(List<String> faceIds, String at) throws IOException {
        for (String f : faceIds) {
            Entry e = entries.get(f);
            if (e != null) entries.put(f, new Entry(e.faceId(), e.decision(), e.sourceIdentityId(), e.targetIdentityId(),
                    e.sourceVersion(), e.targetVersion(), e.decidedAt(), at));
        }
        save();
    }

    /** The whole file, rewritten atomically: a reader (or a crash) sees the old file or the new one. */
    private void save() throws IOException {
        ObjectNode doc = JsonFiles.object();
        doc.put("run", proposals.run());
        doc.put("generated_at", proposals.generatedAt());
        doc.put("proposals_file", proposals.file().toString());
        doc.put("updated_at", Timestamps.ledger());
        Counts c = counts();
        ObjectNode counts = doc.putObject("counts");
        counts.put("accepted", c.accepted());
        counts.put("rejected", c.rejected());
        counts.put("skipped", c.skipped());
        counts.put("left", c.left());
        ObjectNode all = doc.putObject("decisions");
        for (Matcher.Proposal p : proposals.reviewOrder()) {
            Entry e = entries.get(p.faceId());
            if (e == null) continue;
            ObjectNode n = all.putObject(e.faceId());
            n.put("decision", e.decision().json());
            n.put("source_identity_id", e.sourceIdentityId());
            n.put("source_identity_name", p.sourceIdentityName());
            n.put("target_identity_id", e.targetIdentityId());
            n.put("target_identity_name", p.targetIdentityName());
            if (e.sourceVersion() == null) n.putNull("source_version");
            else n.put("source_version", e.sourceVersion());
            if (e.targetVersion() == null) n.putNull("target_version");
            else n.put("target_version", e.targetVersion());
            n.put("decided_at", e.decidedAt());
            n.put("applied_at", e.appliedAt());
        }
        JsonFiles.write(file, doc);
    }

    // ------------------------------------------------------------------ applying

    /** A decision that was (or would be) applied. */
    public record Change(String faceId, String decision, String sourceIdentityId, String sourceName,
                         String targetIdentityId, String targetName, double distance) {}

    /** A decision that is not applied, and why (in words naming the people). */
    public record Refused(String faceId, String decision, String sourceName, String targetName, String reason) {}

    /** What applying the decisions does to one identities document. */
    public record Application(List<Change> accepted, List<Change> rejected, List<Refused> refused,
                              int skipped, int undecided, int alreadyApplied) {
        public boolean changesNothing() {
            return accepted.isEmpty() && rejected.isEmpty();
        }

        public List<String> appliedFaceIds() {
            List<String> out = new ArrayList<>();
            accepted.forEach(c -> out.add(c.faceId()));
            rejected.forEach(c -> out.add(c.faceId()));
            return out;
        }
    }

    /**
     * Applies the decisions to {@code identities} (changed in place): accepted faces move by the
     * rule of matching-and-merge.md §8, rejections add {@code "identity:<target>"} to the source's
     * negative_ids. Every decision is checked against the document as it was before this call:
     * a face or identity that changed since the decision was made is refused, by name.
     */
    public Application applyTo(ObjectNode identities, String now) {
        ObjectNode before = identities.deepCopy();
        JsonNode was = before.path("identities");
        List<Change> accepted = new ArrayList<>(), rejected = new ArrayList<>();
        List<Refused> refused = new ArrayList<>();
        int skipped = 0, undecided = 0, already = 0;
        for (Matcher.Proposal p : proposals.reviewOrder()) {
            Entry e = get(p.faceId());
            if (e == null) {
                undecided++;
                continue;
            }
            if (e.decision() == Decision.SKIP) {
                skipped++;
                continue;
            }
            if (e.appliedAt() != null) {
                already++;
                continue;
            }
            String why = changedSince(e, p, was);
            if (why != null) {
                refused.add(new Refused(p.faceId(), e.decision().json(), p.sourceIdentityName(), p.targetIdentityName(), why));
                continue;
            }
            Change c = new Change(p.faceId(), e.decision().json(), p.sourceIdentityId(), p.sourceIdentityName(),
                    p.targetIdentityId(), p.targetIdentityName(), p.distance());
            if (e.decision() == Decision.ACCEPT) {
                if (!moveFace(identities, p, now)) {
                    refused.add(new Refused(p.faceId(), "accept", p.sourceIdentityName(), p.targetIdentityName(),
                            "it could not be moved (one of the two identities is merged away)"));
                    continue;
                }
                accepted.add(c);
            } else {
                rememberRejection(identities, p, now);
                rejected.add(c);
            }
        }
        return new Application(accepted, rejected, refused, skipped, undecided, already);
    }

    /** Why the decision no longer fits the archive, or null when it still does. */
    static String changedSince(Entry e, Matcher.Proposal p, JsonNode ids) {
        String sName = Names.printable(p.sourceIdentityName()), tName = Names.printable(p.targetIdentityName());
        if (!p.sourceIdentityId().equals(e.sourceIdentityId()) || !p.targetIdentityId().equals(e.targetIdentityId())) {
            return "the decision was made on another proposal for this face (a newer step 4 run)";
        }
        JsonNode source = ids.get(p.sourceIdentityId()), target = ids.get(p.targetIdentityId());
        if (source == null || !source.isObject()) return sName + " no longer exists in identities.json";
        if (target == null || !target.isObject()) return tName + " no longer exists in identities.json";
        if (Identities.isMerged(source)) return sName + " has been merged into " + mergedName(source, ids);
        if (Identities.isMerged(target)) return tName + " has been merged into " + mergedName(target, ids);
        if (!Identities.faceIds(source).contains(p.faceId())) {
            String now = null;
            for (var it = ids.fields(); it.hasNext() && now == null; ) {
                var o = it.next();
                if (Identities.faceIds(o.getValue()).contains(p.faceId())) now = o.getValue().path("name").asText(o.getKey());
            }
            return "the face has moved from " + sName + (now == null ? " (it is in no identity now)" : " to " + Names.printable(now));
        }
        if (e.sourceVersion() != null && source.path("version_id").asLong(0) != e.sourceVersion()) {
            return sName + " was changed since the decision (version " + e.sourceVersion() + " -> " + source.path("version_id").asLong(0) + ")";
        }
        if (e.targetVersion() != null && target.path("version_id").asLong(0) != e.targetVersion()) {
            return tName + " was changed since the decision (version " + e.targetVersion() + " -> " + target.path("version_id").asLong(0) + ")";
        }
        return null;
    }

    private static String mergedName(JsonNode ident, JsonNode ids) {
        String into = ident.path("merged_into").asText();
        return Names.printable(ids.path(into).path("name").asText(into));
    }

    /** Accepting: the one call of matching-and-merge.md §8's rule (the same code as cluster --execute). */
    static boolean moveFace(ObjectNode identities, Matcher.Proposal p, String now) {
        return IdentityEdits.applyProposals(identities, List.of(p), now) == 1;
    }

    /** Rejection memory (matching-and-merge.md): the matcher never proposes this face's identity for that person again. */
    static void rememberRejection(ObjectNode identities, Matcher.Proposal p, String now) {
        ObjectNode source = (ObjectNode) identities.path("identities").get(p.sourceIdentityId());
        String mark = "identity:" + p.targetIdentityId();
        JsonNode neg = source.get("negative_ids");
        ArrayNode list = neg != null && neg.isArray() ? (ArrayNode) neg : source.putArray("negative_ids");
        boolean present = false;
        for (JsonNode n : list) present |= mark.equals(n.asText());
        if (!present) list.add(mark);
        source.put("version_id", source.path("version_id").asLong(0) + 1);
        source.put("updated_at", now);
    }
}
