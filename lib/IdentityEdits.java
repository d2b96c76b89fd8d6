import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.List;

/**
 * The changes step 4's --execute makes to identities.json (matching-and-merge.md, rules 6 and
 * 8): proposals move faces into the proposed person's candidates (never confirmed), promotions
 * lift SKIPPED identities back into review. The document is edited in place; unknown fields
 * and key order survive.
 */
public final class IdentityEdits {
    private IdentityEdits() {}

    /**
     * Rule 8: each face leaves its source's anchors/candidates and joins the target's
     * candidates; both get version_id + 1 and updated_at; a source left empty gets merged_into.
     * Proposals whose source or target is merged already are skipped. Returns how many were applied.
     */
    public static int applyProposals(ObjectNode identities, List<Matcher.Proposal> proposals, String now) {
        JsonNode ids = identities.path("identities");
        int applied = 0;
        for (Matcher.Proposal p : proposals) {
            if (!(ids.get(p.sourceIdentityId()) instanceof ObjectNode source)
                    || !(ids.get(p.targetIdentityId()) instanceof ObjectNode target)) continue;
            if (Identities.isMerged(source) || Identities.isMerged(target)) continue;
            removeFace(source, "anchor_ids", p.faceId());
            removeFace(source, "candidate_ids", p.faceId());
            ArrayNode candidates = target.has("candidate_ids") && target.get("candidate_ids").isArray()
                    ? (ArrayNode) target.get("candidate_ids") : target.putArray("candidate_ids");
            boolean present = false;
            for (JsonNode c : candidates) present |= p.faceId().equals(Identities.faceIdOf(c));
            if (!present) candidates.add(p.faceId());
            bump(source, now);
            bump(target, now);
            if (Identities.faceIds(source).isEmpty()) source.put("merged_into", p.targetIdentityId());
            applied++;
        }
        return applied;
    }

    /** Rule 6: writes the promotions (skipping identities merged away meanwhile); returns how many. */
    public static int applyPromotions(ObjectNode identities, List<Matcher.Promotion> promotions, String now) {
        int n = 0;
        JsonNode ids = identities.path("identities");
        for (Matcher.Promotion p : promotions) {
            JsonNode node = ids.get(p.identityId());
            if (!(node instanceof ObjectNode ident) || Identities.isMerged(ident)) continue;
            ident.put("promoted_from", "SKIPPED");
            ident.put("promoted_at", now);
            ident.put("promotion_reason", "confirmed_match");
            ident.put("promotion_context", p.context());
            n++;
        }
        return n;
    }

    private static void bump(ObjectNode ident, String now) {
        ident.put("version_id", ident.path("version_id").asLong(0) + 1);
        ident.put("updated_at", now);
    }

    private static void removeFace(ObjectNode ident, String key, String faceId) {
        JsonNode list = ident.get(key);
        if (list == null || !list.isArray()) return;
        ArrayNode arr = (ArrayNode) list;
        for (int i = arr.size() - 1; i >= 0; i--) if (faceId.equals(Identities.faceIdOf(arr.get(i)))) arr.remove(i);
    }
}
