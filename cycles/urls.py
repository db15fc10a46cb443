"""Pages of cycles and OKRs, under ``/<org_slug>/`` (included by ``okrapp.urls_tenant``)."""

from django.urls import path

from cycles.views import (
    cycles,
    importer,
    initiatives,
    key_results,
    objectives,
    people,
    review,
    scoring,
    tree,
)

urlpatterns = [
    # Cycles
    path("cycles/", cycles.cycle_list, name="cycle_list"),
    path("cycles/generate/", cycles.cycle_generate, name="cycle_generate"),
    path("cycles/new/", cycles.cycle_create, name="cycle_create"),
    path("cycles/<int:cycle_id>/", cycles.cycle_detail, name="cycle_detail"),
    path("cycles/<int:cycle_id>/settings/", cycles.cycle_edit, name="cycle_edit"),
    path(
        "cycles/<int:cycle_id>/transition/<str:to_state>/",
        cycles.cycle_transition,
        name="cycle_transition",
    ),
    path("cycles/<int:cycle_id>/carry-over/", cycles.cycle_carry_over, name="cycle_carry_over"),
    # Alignment and review
    path("cycles/<int:cycle_id>/tree/", tree.alignment_tree, name="alignment_tree"),
    path("alignment/", tree.alignment_current, name="alignment_current"),
    path("objectives/<int:objective_id>/path/", tree.objective_path, name="objective_path"),
    path("cycles/<int:cycle_id>/review/", review.review_queue, name="review_queue"),
    path("review/", review.review_current, name="review_current"),
    path("objectives/<int:objective_id>/review/", review.objective_review, name="objective_review"),
    # People and teams
    path("okrs/", people.my_okrs, name="my_okrs"),
    path("people/<int:membership_id>/okrs/", people.person_okrs, name="person_okrs"),
    path("teams/<slug:team_slug>/okrs/", people.team_okrs, name="team_okrs"),
    # Objectives
    path("objectives/new/", objectives.objective_create, name="objective_create"),
    # The objective page itself (objectives/<objective_id>/) is the cadence app's: it adds
    # the conversation.
    path("objectives/<int:objective_id>/edit/", objectives.objective_edit, name="objective_edit"),
    path(
        "objectives/<int:objective_id>/delete/",
        objectives.objective_delete,
        name="objective_delete",
    ),
    # Key results and initiatives
    path(
        "objectives/<int:objective_id>/key-results/new/",
        key_results.key_result_create,
        name="key_result_create",
    ),
    # The KR page itself (key-results/<kr_id>/) is the cadence app's: it adds check-ins.
    path("key-results/<int:kr_id>/edit/", key_results.key_result_edit, name="key_result_edit"),
    path(
        "key-results/<int:kr_id>/delete/", key_results.key_result_delete, name="key_result_delete"
    ),
    path(
        "key-results/<int:kr_id>/initiatives/new/",
        initiatives.initiative_create,
        name="initiative_create",
    ),
    path(
        "key-results/<int:kr_id>/initiatives/owners/",
        key_results.initiative_owner_options,
        name="initiative_owner_options",
    ),
    path(
        "initiatives/<int:initiative_id>/edit/",
        initiatives.initiative_edit,
        name="initiative_edit",
    ),
    path(
        "initiatives/<int:initiative_id>/delete/",
        initiatives.initiative_delete,
        name="initiative_delete",
    ),
    # End-of-quarter self-scoring: the owner's page (one key result saves on its own too)
    # and the managers' view with a comment per score.
    path("cycles/<int:cycle_id>/scoring/", scoring.my_scoring, name="my_scoring"),
    path(
        "cycles/<int:cycle_id>/scoring/<int:kr_id>/",
        scoring.my_scoring_save,
        name="my_scoring_save",
    ),
    path("cycles/<int:cycle_id>/scoring/team/", scoring.team_scoring, name="team_scoring"),
    path(
        "cycles/<int:cycle_id>/scoring/team/<int:kr_id>/comment/",
        scoring.team_scoring_comment,
        name="team_scoring_comment",
    ),
    # CSV import of objectives and key results (admins): upload and dry run, then confirm.
    path("cycles/<int:cycle_id>/import/", importer.cycle_import, name="cycle_import"),
    path(
        "cycles/<int:cycle_id>/import/confirm/",
        importer.cycle_import_confirm,
        name="cycle_import_confirm",
    ),
    path(
        "cycles/<int:cycle_id>/import/template.csv",
        importer.cycle_import_template,
        name="cycle_import_template",
    ),
]
