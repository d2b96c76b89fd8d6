import static org.junit.jupiter.api.Assertions.*;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The review in a terminal: `./jbang steps/review.java --terminal` in a real pseudo-terminal
 * (util-linux `script`), answered one prompt at a time, ends in the same identities.json as the
 * browser review. Also: applying later (--apply, --dry-run, --json), and decisions whose faces
 * or identities changed since are refused by name.
 */
class ReviewTerminalTest {

    /** The answers that make the terminal review decide as the browser test does: accept two, reject one, skip the rest up to there, then q. */
    static List<String> answers(Path work) {
        List<String> out = new ArrayList<>();
        int left = 3;
        for (Matcher.Proposal p : ReviewDecisions.loadProposals(work.resolve("data")).reviewOrder()) {
            if (left == 0) break;
            String f = p.faceId();
            if (f.equals(ReviewFlowTest.ACCEPT_1) || f.equals(ReviewFlowTest.ACCEPT_2)) {
                out.add("a");
                left--;
            } else if (f.equals(ReviewFlowTest.REJECT_1)) {
                out.add("r");
                left--;
            } else {
                out.add(out.size() == 1 ? "maybe" : "s");  // one answer that is not understood: asked again
                if (out.get(out.size() - 1).equals("maybe")) out.add("s");
            }
        }
        out.add("q");
        return out;
    }

    @Test
    void aTerminalReviewInAPseudoTerminalEndsLikeTheBrowserReview(@TempDir Path work) throws Exception {
        Path script = Path.of("/usr/bin/script");
        Assumptions.assumeTrue(Files.isExecutable(script), "util-linux script is not installed");
        ReviewFlowTest.archive(work);
        List<JsonNode> proposals = ReviewFlowTest.cluster(work);
        JsonNode before = JsonFiles.readObject(work.resolve("data/identities.json"));
        List<String> answers = answers(work);

        String cmd = "cd '" + KitProcess.root() + "' && ./jbang steps/review.java --terminal --data-dir '" + work.resolve("data")
                + "' --photos-dir '" + work.resolve("raw_photos") + "' --crops-dir '" + work.resolve("raw_photos/crops") + "'";
        Process p = new ProcessBuilder(script.toString(), "-q", "-e", "-c", cmd, "/dev/null").redirectErrorStream(true).start();
        StringBuffer screen = new StringBuffer();
        Thread reader = new Thread(() -> {
            try (InputStream in = p.getInputStream()) {
                byte[] buf = new byte[4096];
                for (int n; (n = in.read(buf)) > 0; ) screen.append(new String(buf, 0, n, StandardCharsets.UTF_8));
            } catch (java.io.IOException ignored) {
            }
        });
        reader.start();
        OutputStream keyboard = p.getOutputStream();
        String prompt = "[a/r/s/q] ";
        for (int i = 0; i < answers.size(); i++) {
            long deadline = System.currentTimeMillis() + 300_000;
            while (count(screen.toString(), prompt) <= i) {
                assertTrue(p.isAlive() && System.currentTimeMillis() < deadline, "no prompt " + (i + 1) + " came:\n" + screen);
                Thread.sleep(50);
            }
            keyboard.write((answers.get(i) + "\r").getBytes(StandardCharsets.UTF_8));  // Enter on a terminal is CR
            keyboard.flush();
        }
        assertTrue(p.waitFor(120, TimeUnit.SECONDS), "the review ended after q:\n" + screen);
        reader.join(5000);
        String transcript = screen.toString().replace("\r\n", "\n");
        System.out.println("---- terminal review transcript ----\n" + transcript + "\n----");
        assertEquals(0, p.exitValue(), transcript);
        assertTrue(transcript.contains("please answer a, r, s or q"), "an answer not understood is asked again");
        assertTrue(transcript.contains("face " + ReviewFlowTest.ACCEPT_1 + "  (from Unidentified Person 110, INBOX)"), transcript);
        assertTrue(transcript.contains("is it Leon Capeluto?  distance 0.6625  VERY HIGH"), transcript);
        assertTrue(transcript.contains("crop:  " + work.resolve("raw_photos/crops/" + ReviewFlowTest.REJECT_1 + ".jpg") + "  (not on this computer)"), transcript);
        assertTrue(transcript.contains("photo: " + work.resolve("raw_photos")), transcript);
        assertTrue(transcript.contains("applied to identities.json: 2 face(s) added"), transcript);

        JsonNode after = JsonFiles.readObject(work.resolve("data/identities.json"));
        ReviewFlowTest.assertExactlyApplied(before, after, proposals, List.of(ReviewFlowTest.ACCEPT_1, ReviewFlowTest.ACCEPT_2),
                List.of(ReviewFlowTest.REJECT_1));
        try (var s = Files.list(work.resolve("data/backups"))) {
            assertTrue(s.anyMatch(f -> f.getFileName().toString().startsWith("identities.json.")), "a backup was made first");
        }
        ReviewFlowTest.assertSecondClusterRun(work, proposals, List.of(ReviewFlowTest.ACCEPT_1, ReviewFlowTest.ACCEPT_2), List.of(ReviewFlowTest.REJECT_1));
    }

    static int count(String s, String what) {
        int n = 0;
        for (int i = s.indexOf(what); i >= 0; i = s.indexOf(what, i + 1)) n++;
        return n;
    }

    /** Decisions made, then the archive changes under them: --apply refuses those by name, applies the rest, and never twice. */
    @Test
    void applyLaterRefusesDecisionsWhoseFacesOrIdentitiesChanged(@TempDir Path work) throws Exception {
        ReviewFlowTest.archive(work);
        List<JsonNode> proposals = ReviewFlowTest.cluster(work);
        Path data = work.resolve("data");
        ObjectNode ids = JsonFiles.readObject(data.resolve("identities.json"));
        ReviewDecisions d = ReviewDecisions.open(work.resolve("data/review"), ReviewDecisions.loadProposals(data));
        String merged = "inbox_35de9ea814d2", moved = "inbox_258fc7a9a92f", bumped = "inbox_990eb112b1fa";
        for (String f : List.of(ReviewFlowTest.ACCEPT_1, merged, moved, bumped)) d.record(f, ReviewDecisions.Decision.ACCEPT, ids);
        d.record(ReviewFlowTest.REJECT_1, ReviewDecisions.Decision.REJECT, ids);
        d.record(ReviewFlowTest.ACCEPT_2, ReviewDecisions.Decision.SKIP, ids);

        // Meanwhile (an admin on the site, a newer run): one source merged away, one face moved, one person edited.
        ObjectNode all = (ObjectNode) ids.get("identities");
        String mergedSource = ReviewFlowTest.proposal(proposals, merged).get("source_identity_id").asText();
        ((ObjectNode) all.get(mergedSource)).put("merged_into", ReviewFlowTest.proposal(proposals, ReviewFlowTest.ACCEPT_1).get("target_identity_id").asText());
        String movedSource = ReviewFlowTest.proposal(proposals, moved).get("source_identity_id").asText();
        ObjectNode src = (ObjectNode) all.get(movedSource);
        src.putArray("anchor_ids");
        src.putArray("candidate_ids");
        ((ArrayNode) ((ObjectNode) all.get(mergedSource)).withArray("candidate_ids")).add(moved);
        String bumpedTarget = ReviewFlowTest.proposal(proposals, bumped).get("target_identity_id").asText();
        ((ObjectNode) all.get(bumpedTarget)).put("version_id", all.get(bumpedTarget).get("version_id").asLong() + 1);
        JsonFiles.write(data.resolve("identities.json"), ids);
        JsonNode before = JsonFiles.readObject(data.resolve("identities.json"));

        String[] where = {"--data-dir", data.toString(), "--photos-dir", work.resolve("raw_photos").toString(), "--crops-dir",
                work.resolve("raw_photos/crops").toString()};
        KitProcess.Result dry = KitProcess.run(Map.of(), null, "steps/review.java", concat(where, "--apply", "--dry-run"));
        System.out.println("---- ./jbang review --apply --dry-run ----\n" + dry.all());
        assertEquals(0, dry.exitCode(), dry.all());
        assertEquals(before, JsonFiles.readObject(data.resolve("identities.json")), "--dry-run changes nothing");
        assertTrue(dry.stdout().contains("1 to accept, 1 to reject, 1 skipped"), dry.stdout());

        KitProcess.Result r = KitProcess.run(Map.of(), null, "steps/review.java", concat(where, "--apply", "--json"));
        System.out.println("---- ./jbang review --apply --json ----\n" + r.all());
        assertEquals(0, r.exitCode(), r.all());
        JsonNode out = JsonFiles.parse(r.stdout(), "stdout");
        assertEquals("review", out.get("step").asText());
        assertEquals(1, out.get("result").get("accepted").size());
        assertEquals(1, out.get("result").get("rejected").size());
        List<String> refused = new ArrayList<>();
        out.get("result").get("not_applied").forEach(n -> refused.add(n.get("face_id").asText() + ": " + n.get("reason").asText()));
        assertEquals(3, refused.size(), refused.toString());
        assertTrue(refused.get(0).matches(".*has been merged into Leon Capeluto"), refused.toString());
        assertTrue(r.stderr().contains("not applied: accept of face " + moved + " (Unidentified Person 080 -> Nace Capeluto): the face has moved from Unidentified Person 080 to Unidentified Person 084"), r.stderr());
        assertTrue(refused.stream().anyMatch(s -> s.startsWith(bumped) && s.contains("was changed since the decision (version 1 -> 2)")), refused.toString());

        JsonNode after = JsonFiles.readObject(data.resolve("identities.json"));
        ReviewFlowTest.assertExactlyApplied(before, after, proposals, List.of(ReviewFlowTest.ACCEPT_1), List.of(ReviewFlowTest.REJECT_1));

        // Applied once: a second --apply has nothing left to do.
        KitProcess.Result again = KitProcess.run(Map.of(), null, "steps/review.java", concat(where, "--apply"));
        assertEquals(0, again.exitCode(), again.all());
        assertTrue(again.stdout().contains("2 applied earlier") && again.stdout().contains("No decision to apply"), again.stdout());
        assertEquals(after, JsonFiles.readObject(data.resolve("identities.json")));
    }

    static String[] concat(String[] a, String... b) {
        String[] out = new String[a.length + b.length];
        System.arraycopy(a, 0, out, 0, a.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }
}
