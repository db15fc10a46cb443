# On PostgreSQL the database itself refuses a row that links two organisations.
from django.db import migrations

from okrapp.db import AddTenantForeignKey


class Migration(migrations.Migration):
    dependencies = [("cycles", "0001_initial"), ("okrapp", "0002_same_org_foreign_keys")]

    operations = [
        AddTenantForeignKey("cyclepilotteam", "cycle"),
        AddTenantForeignKey("cyclepilotteam", "team"),
        AddTenantForeignKey("cycletransition", "cycle"),
        AddTenantForeignKey("cycletransition", "by"),
        AddTenantForeignKey("objective", "cycle"),
        AddTenantForeignKey("objective", "team"),
        AddTenantForeignKey("objective", "owner"),
        AddTenantForeignKey("objective", "carried_from"),
        AddTenantForeignKey("alignment", "child"),
        AddTenantForeignKey("alignment", "parent"),
        AddTenantForeignKey("keyresult", "objective"),
        AddTenantForeignKey("keyresult", "owner"),
        AddTenantForeignKey("keyresult", "carried_from"),
        AddTenantForeignKey("initiative", "key_result"),
        AddTenantForeignKey("initiative", "owner"),
        AddTenantForeignKey("review", "objective"),
        AddTenantForeignKey("review", "reviewer"),
    ]
