# On PostgreSQL the database itself refuses a score that links two organisations.
from django.db import migrations

from okrapp.db import AddTenantForeignKey


class Migration(migrations.Migration):
    dependencies = [("cycles", "0003_key_result_score")]

    operations = [
        AddTenantForeignKey("keyresultscore", "key_result"),
        AddTenantForeignKey("keyresultscore", "scored_by"),
        AddTenantForeignKey("keyresultscore", "reviewed_by"),
    ]
