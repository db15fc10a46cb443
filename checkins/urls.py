"""Pages of the cadence under ``/<org_slug>/`` (included by ``okrapp.urls_tenant``)."""

from django.urls import path

from checkins.views import conversation, key_results, my_week, objectives

urlpatterns = [
    path("my-week/", my_week.my_week, name="my_week"),
    path("my-week/<int:kr_id>/", my_week.my_week_save, name="my_week_save"),
    # The KR and objective pages: their figures from cycles, plus check-ins and comments.
    path("key-results/<int:kr_id>/", key_results.key_result_detail, name="key_result_detail"),
    path(
        "key-results/<int:kr_id>/check-in/",
        key_results.key_result_checkin,
        name="key_result_checkin",
    ),
    path("objectives/<int:objective_id>/", objectives.objective_detail, name="objective_detail"),
    # Conversation.
    path(
        "key-results/<int:kr_id>/comments/",
        conversation.key_result_comment,
        name="key_result_comment",
    ),
    path(
        "objectives/<int:objective_id>/comments/",
        conversation.objective_comment,
        name="objective_comment",
    ),
    path(
        "check-ins/<int:checkin_id>/comments/", conversation.checkin_comment, name="checkin_comment"
    ),
    path(
        "check-ins/<int:checkin_id>/acknowledge/",
        conversation.checkin_acknowledge,
        name="checkin_acknowledge",
    ),
    path("comments/<int:comment_id>/edit/", conversation.comment_edit, name="comment_edit"),
    path("comments/<int:comment_id>/delete/", conversation.comment_delete, name="comment_delete"),
]
