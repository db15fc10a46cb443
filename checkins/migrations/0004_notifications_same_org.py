# On PostgreSQL the database itself refuses a row that links two organisations.
from django.db import migrations

from okrapp.db import AddTenantForeignKey


class Migration(migrations.Migration):
    dependencies = [("checkins", "0003_notifications")]

    operations = [
        AddTenantForeignKey("awayperiod", "membership"),
        AddTenantForeignKey("notificationclaim", "membership"),
    ]
