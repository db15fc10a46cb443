"""Aligned progress: how the objectives aligned to an objective are doing, at every level
below it (``cycles.scoring.aligned_progress``), with the sum and count it is the mean of.
Filled in for the objectives there are, organisation by organisation, by the statement the
services use after writes in bulk (``cycles.rollup``)."""

from django.db import migrations, models

from cycles import rollup


def fill_in(apps, schema_editor):
    organizations = apps.get_model("okrapp", "Organization").objects.order_by("pk")
    with schema_editor.connection.cursor() as cursor:
        for org_id in organizations.values_list("pk", flat=True):
            rollup.recompute_organisation(cursor, org_id)


class Migration(migrations.Migration):
    dependencies = [
        ("cycles", "0005_cycletransition_by_deadline"),
        ("okrapp", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="objective",
            name="aligned_count",
            field=models.PositiveIntegerField(default=0, editable=False),
        ),
        migrations.AddField(
            model_name="objective",
            name="aligned_progress",
            field=models.DecimalField(
                blank=True,
                decimal_places=4,
                editable=False,
                max_digits=12,
                null=True,
                verbose_name="aligned progress",
            ),
        ),
        migrations.AddField(
            model_name="objective",
            name="aligned_total",
            field=models.BigIntegerField(default=0, editable=False),
        ),
        # Going back drops the columns: nothing to undo.
        migrations.RunPython(fill_in, migrations.RunPython.noop),
    ]
