import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;

/**
 * The review without a browser (over SSH, on a server): the proposals one by one in the same
 * order as the page, each answered a (accept), r (reject), s (skip) or q (stop here), into the
 * same decisions file, saved after every answer. Proposals decided earlier are not asked again.
 */
public final class ReviewTerminal {
    private ReviewTerminal() {}

    /** How the terminal review ended. */
    public enum End { ALL_ANSWERED, QUIT, END_OF_INPUT }

    public static End run(Console c, ReviewDecisions decisions, JsonNode identities, ReviewFaces faces) throws IOException {
        List<Matcher.Proposal> order = decisions.proposals().reviewOrder();
        int open = 0;
        for (Matcher.Proposal p : order) if (decisions.get(p.faceId()) == null) open++;
        c.info(order.size() + " proposals in run " + decisions.proposals().run() + ", " + (order.size() - open) + " decided already, "
                + open + " to go. Decisions are saved after each answer in " + decisions.file());
        c.info("Answer a = accept (the face joins the person's candidates), r = reject (never proposed again), s = skip, q = stop here.");
        int n = 0;
        for (Matcher.Proposal p : order) {
            n++;
            if (decisions.get(p.faceId()) != null) continue;
            c.info("");
            c.info("[" + n + "/" + order.size() + "] face " + Names.printable(p.faceId()) + "  (from " + Names.printable(p.sourceIdentityName())
                    + ", " + p.sourceState() + ")");
            c.info("        is it " + Names.printable(p.targetIdentityName()) + "?  distance " + Matcher.fixed(p.distance(), 4) + "  " + p.confidence()
                    + (Double.isInfinite(p.margin()) ? "" : "  margin " + Matcher.fixed(p.margin(), 3)));
            if (p.ambiguous()) c.warn("AMBIGUOUS: another person is almost as close (family resemblance?): check carefully");
            c.info("        crop:  " + describe(faces.cropFile(p.faceId()), faces.hasCrop(p.faceId())));
            Path photo = faces.photoFile(p.faceId());
            c.info("        photo: " + (photo == null ? "unknown" : describe(photo, faces.hasPhoto(p.faceId()))));
            while (true) {
                String answer = c.readLine("  accept / reject / skip / quit? [a/r/s/q] ");
                if (answer == null) {
                    c.info("");
                    c.info("(end of input: stopping here; the answers given are saved)");
                    return End.END_OF_INPUT;
                }
                String a = answer.strip().toLowerCase(java.util.Locale.ROOT);
                ReviewDecisions.Decision d = switch (a) {
                    case "a", "accept", "y", "yes" -> ReviewDecisions.Decision.ACCEPT;
                    case "r", "reject", "n", "no" -> ReviewDecisions.Decision.REJECT;
                    case "s", "skip" -> ReviewDecisions.Decision.SKIP;
                    default -> null;
                };
                if (a.equals("q") || a.equals("quit")) {
                    c.info("Stopped; the answers given are saved.");
                    return End.QUIT;
                }
                if (d == null) {
                    c.info("  please answer a, r, s or q");
                    continue;
                }
                decisions.record(p.faceId(), d, identities);
                ReviewDecisions.Counts k = decisions.counts();
                c.info("  -> " + switch (d) {
                    case ACCEPT -> "accepted";
                    case REJECT -> "rejected";
                    case SKIP -> "skipped";
                } + "  (accepted " + k.accepted() + ", rejected " + k.rejected() + ", skipped " + k.skipped() + ", left " + k.left() + ")");
                break;
            }
        }
        c.info("");
        c.info("Every proposal has an answer.");
        return End.ALL_ANSWERED;
    }

    private static String describe(Path file, boolean present) {
        return Names.printable(file.toString()) + (present ? "" : "  (not on this computer)");
    }
}
