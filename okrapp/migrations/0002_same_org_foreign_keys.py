# On PostgreSQL the database itself refuses a row that links two organisations.
from django.db import migrations

from okrapp.db import AddTenantForeignKey


class Migration(migrations.Migration):
    dependencies = [("okrapp", "0001_initial")]

    operations = [
        AddTenantForeignKey("membership", "manager"),
        AddTenantForeignKey("team", "parent"),
        AddTenantForeignKey("teammembership", "team"),
        AddTenantForeignKey("teammembership", "membership"),
        AddTenantForeignKey("invitation", "team"),
        AddTenantForeignKey("invitation", "invited_by"),
        AddTenantForeignKey("invitation", "accepted_by"),
    ]
