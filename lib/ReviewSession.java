import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.File;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Step 4's review, start to end: the person decides about each proposal (on the local review
 * page or in the terminal), every decision is saved at once, and at the end the decisions are
 * applied to identities.json by {@link ReviewApplyStep} (in a dry run: shown, not applied).
 * {@code ./jbang review} and the pipeline's pause at step 4 both run {@link #run}.
 */
public final class ReviewSession {
    private ReviewSession() {}

    public enum ReviewMode { BROWSER, TERMINAL }

    /** OPEN tries the default browser (when one can be opened); PRINT_ONLY only prints the address. */
    public enum Browser { OPEN, PRINT_ONLY }

    /** @param port 0 = any free port */
    public record Options(ReviewMode mode, int port, Browser browser) {
        public static Options of(ReviewMode mode) {
            return new Options(mode, 0, Browser.OPEN);
        }
    }

    /**
     * What the review decided and applied. {@code accepted}/{@code rejected}/{@code skipped}
     * count the decisions in the file (earlier sessions' included); {@code appliedAccepted} and
     * {@code appliedRejected} what this session wrote to identities.json (0 in a dry run).
     * {@code endedBy}: "page" (Done), "terminal" (Enter, or the end of a terminal review), "nothing to review".
     */
    public record Outcome(String run, boolean dryRun, String endedBy, String decisionsFile, int proposals,
                          int accepted, int rejected, int skipped, int undecided, int appliedAccepted, int appliedRejected,
                          List<ReviewDecisions.Refused> notApplied, String backup) {
        /** No decision was made at all (nothing accepted, rejected or skipped): the pipeline goes on as it was. */
        public boolean noDecisions() {
            return accepted + rejected + skipped == 0;
        }

        /** identities.json was written by this session. */
        public boolean changedIdentities() {
            return appliedAccepted + appliedRejected > 0;
        }

        /** The summary in words (the page's "Done" box, and the pipeline's line). */
        public List<String> lines() {
            List<String> out = new ArrayList<>();
            if (proposals == 0) {
                out.add("There were no proposals to review.");
                return out;
            }
            out.add("Decisions: " + accepted + " accepted, " + rejected + " rejected, " + skipped + " skipped, " + undecided
                    + " not decided (saved in " + decisionsFile + ").");
            if (noDecisions()) {
                out.add("No decisions at all: identities.json is unchanged.");
            } else if (dryRun) {
                out.add("Dry run: nothing was applied; ./jbang review --apply applies these decisions later.");
            } else if (changedIdentities()) {
                out.add("Applied to identities.json: " + appliedAccepted + " face(s) added to their person's candidates (not confirmed), "
                        + appliedRejected + " rejection(s) remembered. Backup first: " + backup
                        + " (./jbang restore --timestamp " + backup + " undoes it).");
            } else {
                out.add("Nothing new to apply: identities.json is unchanged.");
            }
            for (ReviewDecisions.Refused r : notApplied) {
                out.add("Not applied: " + r.decision() + " of face " + Names.printable(r.faceId()) + " (" + Names.printable(r.sourceName())
                        + " -> " + Names.printable(r.targetName()) + "): " + r.reason());
            }
            return out;
        }

        public ObjectNode toJson() {
            ObjectNode o = JsonFiles.MAPPER.valueToTree(this);
            o.put("no_decisions", noDecisions());
            o.put("changed_identities", changedIdentities());
            ArrayNode l = o.putArray("lines");
            lines().forEach(l::add);
            return o;
        }
    }

    /** The pipeline's entry: the review in this mode, on a free port, opening the browser when it can. */
    public static Outcome run(KitContext ctx, ReviewMode mode) throws Exception {
        return run(ctx, Options.of(mode));
    }

    public static Outcome run(KitContext ctx, Options options) throws Exception {
        Console c = ctx.console();
        ReviewDecisions.ProposalSet proposals = ReviewDecisions.loadProposals(ctx.layout().data());
        if (proposals.proposals().isEmpty()) {
            c.info("No proposals to review in " + proposals.file() + ": nothing to decide, identities.json stays as it is.");
            return new Outcome(proposals.run(), ctx.dryRun(), "nothing to review", null, 0, 0, 0, 0, 0, 0, 0, List.of(), null);
        }
        try (DataLock lock = DataLock.acquire(ctx.layout().data(), "review")) {
            if (lock.staleLockReport() != null) c.warn(lock.staleLockReport());
            ReviewDecisions decisions = ReviewDecisions.open(ctx.layout().review(), proposals);
            ArchiveRead archive = ArchiveRead.of(new ArchiveFiles(ctx.layout().data()), () -> ReviewFaces.storeOrNull(ctx.layout().data()));
            ObjectNode identities = archive.identities();
            ReviewFaces faces = new ReviewFaces(ctx.layout(), archive.photoIndex(), archive.store());
            if (options.mode() == ReviewMode.TERMINAL) {
                ReviewTerminal.run(c, decisions, identities, faces);
                return finish(ctx, decisions, "terminal");
            }
            return browser(ctx, options, decisions, identities, faces);
        }
    }

    private static Outcome browser(KitContext ctx, Options options, ReviewDecisions decisions, ObjectNode identities, ReviewFaces faces)
            throws Exception {
        Console c = ctx.console();
        Outcome[] result = new Outcome[1];
        try (ReviewServer server = new ReviewServer(decisions, identities, faces,
                () -> ReviewApp.model(decisions, identities, faces, ctx.dryRun()),
                how -> {
                    result[0] = finish(ctx, decisions, how);
                    return result[0].toJson();
                })) {
            URI url = server.start(options.port());
            ReviewDecisions.Counts k = decisions.counts();
            c.info("");
            c.info("Review page (this computer only): " + url);
            c.info(decisions.proposals().proposals().size() + " proposals; " + (k.accepted() + k.rejected() + k.skipped())
                    + " decided already. Every decision is saved at once in " + decisions.file());
            c.info("Press \"Done\" on the page when you have finished, or Enter here: the decisions made are then "
                    + (ctx.dryRun() ? "shown (dry run: nothing is applied)." : "applied to identities.json, after a backup."));
            if (options.browser() == Browser.OPEN && !openBrowser(url)) c.info("(no browser could be opened from here: open the address above)");
            while (!server.isFinished()) {
                if (c.inputWaiting()) {
                    if (c.readLine(null) != null) {
                        c.info("Enter pressed: ending the review.");
                        server.finish("terminal");
                        break;
                    }
                }
                Thread.sleep(150);
            }
            server.awaitFinished();
            return result[0];
        }
    }

    /** The end of a review: the decisions are applied (or, in a dry run, shown) by the review step. */
    private static Outcome finish(KitContext ctx, ReviewDecisions decisions, String how) throws Exception {
        ctx.console().section("Applying the review's decisions" + (ctx.dryRun() ? " (dry run)" : ""));
        StepRunner.Outcome<ReviewApplyStep.Plan, ReviewApplyStep.Result> o = StepRunner.run(new ReviewApplyStep(), ctx);
        ReviewDecisions.Counts k = decisions.counts();
        ReviewApplyStep.Result r = o.result();
        return new Outcome(decisions.proposals().run(), ctx.dryRun(), how, decisions.file().toString(), decisions.proposals().proposals().size(),
                k.accepted(), k.rejected(), k.skipped(), k.left(), r == null ? 0 : r.accepted().size(), r == null ? 0 : r.rejected().size(),
                r == null ? o.plan().notApplied() : r.notApplied(), r == null ? null : r.backup());
    }

    /** Opens the address in the default browser when this computer has one to open; false when it could not. */
    static boolean openBrowser(URI url) {
        String os = System.getProperty("os.name", "").toLowerCase(Locale.ROOT);
        List<String> cmd;
        if (os.contains("mac")) cmd = List.of("open", url.toString());
        else if (os.contains("win")) cmd = List.of("rundll32", "url.dll,FileProtocolHandler", url.toString());
        else if ((System.getenv("DISPLAY") != null || System.getenv("WAYLAND_DISPLAY") != null) && onPath("xdg-open")) {
            cmd = List.of("xdg-open", url.toString());
        } else return false;
        try {
            new ProcessBuilder(cmd).redirectOutput(ProcessBuilder.Redirect.DISCARD).redirectError(ProcessBuilder.Redirect.DISCARD).start();
            return true;
        } catch (java.io.IOException e) {
            return false;
        }
    }

    private static boolean onPath(String name) {
        for (String d : System.getenv().getOrDefault("PATH", "").split(File.pathSeparator)) {
            if (!d.isEmpty() && Files.isExecutable(Path.of(d, name))) return true;
        }
        return false;
    }
}
